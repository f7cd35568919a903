import { NUMBER_WORDS, parseNumberWords } from './number-words.js';
import { unicodeWords } from './word-boundary.js';

/** A period as the text writes it, read into a duration. */
export interface PeriodMention {
  /** The words matched: "six (6) months", "fifteen business days", "180 días". */
  text: string;
  /** Where `text` starts in the sentence. */
  index: number;
  amount: number;
  unit: PeriodUnit;
  /**
   * The period as a rule writes it: an ISO-8601 duration (`P6M`, `P180D`, `PT24H`), or a
   * count of working days, which ISO-8601 has no form for (the `requests:` section takes
   * `{ workingDays: N }`).
   */
  duration: string | { workingDays: number };
}

export type PeriodUnit = 'hours' | 'days' | 'working-days' | 'weeks' | 'months' | 'years';

/** Why a number with a unit was found and set aside: it does not state a period. */
export interface SetAside {
  text: string;
  reason: string;
}

const NUMBER = `(?:\\d{1,4}|${NUMBER_WORDS})`;
// "six (6) months" and "6 (six) months": the parenthesis repeats the number.
const REPEAT = `(?:\\s*\\(\\s*(${NUMBER})\\s*\\))?`;
// English units with an optional business/working qualifier before them; Spanish units
// (LetsAI's policy is published in both) with "hábiles" / "laborables" after them.
const UNIT = '(?:(business|working|calendar|consecutive)\\s+)?(hours?|days?|weeks?|months?|years?|horas?|d[ií]as?|semanas?|mes(?:es)?|a[ñn]os?)(?![\\p{L}])(?:\\s+(h[aá]biles|laborables|naturales))?';
const MENTION = new RegExp(`(?<![\\p{L}\\d.,])(${NUMBER})${REPEAT}(?:\\s+|-)${UNIT}`, 'giu');

const UNIT_OF: ReadonlyArray<[RegExp, PeriodUnit]> = [
  [/^(hours?|horas?)$/i, 'hours'],
  [/^(days?|d[ií]as?)$/i, 'days'],
  [/^(weeks?|semanas?)$/i, 'weeks'],
  [/^(months?|mes(es)?)$/i, 'months'],
  [/^(years?|a[ñn]os?)$/i, 'years'],
];

const ISO_LETTER: Readonly<Record<Exclude<PeriodUnit, 'working-days'>, string>> = { hours: 'TH', days: 'D', weeks: 'W', months: 'M', years: 'Y' };

/**
 * What makes a number with a unit something other than a period to keep data for: an age
 * ("under 14 years of age", "over 18 years old", "menores de 18 años"), a look back ("in
 * the past 12 months"), a time ago. Tested on the text just before and just after it.
 */
const BEFORE_SET_ASIDE: ReadonlyArray<[RegExp, string]> = ([
  [/\b(?:aged?|ages|age\s+of|(?:menores|mayores)\s+de|edad\s+de)\s*$/iu, 'an age'],
  // "children under 14 years", "users over 18 years": an age; "inactive for over 2 years" is not.
  [/(?<!\b(?:for|after|within|than|of|inactive|kept|retained|stored|period)\s+)\b(?:under|below|over|above|younger\s+than|older\s+than)\s*$/iu, 'an age'],
  [/\b(?:past|last|previous|preceding|prior|pasad[oa]s|[uú]ltim[oa]s)\s*$/iu, 'a look back, not a period to keep data for'],
] as Array<[RegExp, string]>).map(([re, why]) => [unicodeWords(re), why]);
const AFTER_SET_ASIDE: ReadonlyArray<[RegExp, string]> = [
  [/^(?:\s+of\s+age|-?\s*old\b|\s+de\s+edad)/iu, 'an age'],
  [/^\s+ago\b/iu, 'a time ago'],
];

/** The number a digit string or a run of number words stands for. */
function numberOf(text: string): number | undefined {
  return /^\d+$/.test(text) ? Number(text) : parseNumberWords(text);
}

/**
 * Every period a sentence writes ("kept for a maximum of six (6) months", "within forty-five
 * days", "fifteen business days"), and the numbers with units it set aside with why. A
 * number without a unit ("section 3", "ISO 27001") is never a period.
 */
export function findPeriods(sentence: string): { periods: PeriodMention[]; setAside: SetAside[] } {
  const periods: PeriodMention[] = [];
  const setAside: SetAside[] = [];
  for (const match of sentence.matchAll(MENTION)) {
    const [text, numberText, repeated, qualifier, unitText, spanishQualifier] = match;
    const index = match.index;
    const before = sentence.slice(Math.max(0, index - 40), index);
    const after = sentence.slice(index + text.length, index + text.length + 20);
    const amount = numberOf(numberText!);
    if (amount === undefined) continue;
    const aside = BEFORE_SET_ASIDE.find(([re]) => re.test(before)) ?? AFTER_SET_ASIDE.find(([re]) => re.test(after));
    if (aside) {
      setAside.push({ text, reason: aside[1] });
      continue;
    }
    if (repeated !== undefined && numberOf(repeated) !== amount) {
      setAside.push({ text, reason: `the words and the digits disagree (${numberText} / ${repeated})` });
      continue;
    }
    if (amount === 0) {
      setAside.push({ text, reason: 'a period of zero' });
      continue;
    }
    const working = /^(business|working)$/i.test(qualifier ?? '') || /^(h[aá]biles|laborables)$/i.test(spanishQualifier ?? '');
    const base = UNIT_OF.find(([re]) => re.test(unitText!))![1];
    if (working && base !== 'days') {
      setAside.push({ text, reason: 'working units other than days have no meaning here' });
      continue;
    }
    const unit: PeriodUnit = working ? 'working-days' : base;
    const duration = unit === 'working-days' ? { workingDays: amount } : isoDuration(amount, unit);
    periods.push({ text, index, amount, unit, duration });
  }
  return { periods, setAside };
}

function isoDuration(amount: number, unit: Exclude<PeriodUnit, 'working-days'>): string {
  const letter = ISO_LETTER[unit];
  return letter.startsWith('T') ? `PT${amount}${letter.slice(1)}` : `P${amount}${letter}`;
}
