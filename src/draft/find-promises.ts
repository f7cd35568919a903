import { anchorOf, type AnchorEvent } from './anchor-event.js';
import { categoryOf, type DataCategory } from './data-category.js';
import { findPeriods, type PeriodUnit } from './period-mention.js';
import { toPlainLines } from './plain-text.js';
import { sentencesOf, type Sentence } from './sentences.js';
import { unicodeWords } from './word-boundary.js';

/** A promise with a period: keep or delete data for so long, or answer a request within so long. */
export interface FoundPromise {
  /** `deadline`: a time to answer a request (counted from its receipt); `retention`: data kept or deleted. */
  kind: 'retention' | 'deadline';
  /** The period as written: "six (6) months", "fifteen business days". */
  period: string;
  amount: number;
  unit: PeriodUnit;
  /** An ISO-8601 duration, or working days, which ISO-8601 cannot write. */
  duration: string | { workingDays: number };
  /** The event the period counts from, when the sentence names one. */
  anchor?: AnchorEvent;
  /** The kind of data (or of request) the sentence names, when it names one. */
  category?: DataCategory;
  sentence: string;
  section?: string;
}

/** A sentence with retention language and no period: a person decides what it means. */
export interface UndecidedPromise {
  sentence: string;
  section?: string;
  /** The words that make it a promise without a period ("as long as necessary"). */
  reason: string;
}

/** A number with a unit that was read and found not to be a period ("under 18 years of age"). */
export interface SetAsidePeriod {
  text: string;
  reason: string;
  sentence: string;
  section?: string;
}

export interface PolicyPromises {
  promises: FoundPromise[];
  undecided: UndecidedPromise[];
  setAside: SetAsidePeriod[];
}

/**
 * Words that make a period in the sentence a retention period or an answer deadline:
 * keeping, deleting, answering, or a bound ("within", "no longer than", "up to").
 */
const RETENTION_LANGUAGE = unicodeWords(
  /\b(?:retain\w*|retention|kept|keep\w*|stor(?:e|ed|es|ing|age)|delet\w*|eras\w*|remov\w*|purg\w*|destr\w*|anonymi[sz]\w*|de-?identif\w*|dispos\w*|expir\w*|archiv\w*|respond\w*|response|repl(?:y|ies)|answer\w*|get\s+back\s+to\s+you|within|no\s+longer\s+than|not\s+longer\s+than|maximum\s+of|at\s+most|up\s+to|conserv\w*|guarda\w*|almacen\w*|elimin\w*|borra\w*|suprim\w*|anonimi\w*|dentro\s+de|despu[eé]s\s+de)\b/iu,
);

/** Words of a promise that has no period: each needs a person to choose one (or none). */
const WITHOUT_PERIOD: ReadonlyArray<RegExp> = [
  /\bas\s+long\s+as\b/iu,
  /\bfor\s+the\s+(?:period|time)\s+(?:necessary|needed|required)\b/iu,
  /\bfor\s+the\s+duration\s+of\b/iu,
  /\bas\s+soon\s+as\s+(?:possible|practicable|reasonably\s+\w+)\b/iu,
  /\bwithin\s+(?:an?\s+)?(?:appropriate|reasonable|timely)\s+(?:time|period|timeframe|manner)\b/iu,
  /\bno\s+longer\s+(?:necessary|needed|required)\b/iu,
  /\b(?:not|never)\s+(?:be\s+)?(?:stored|retained|kept|saved)\b/iu,
  /\bno\s+(?:ongoing\s+)?(?:legitimate\s+)?(?:business\s+)?need\b/iu,
  /\buntil\b/iu,
  // Counted from an event, with no period after it: "once you end your relationship with us, we may retain".
  /\b(?:once|after|when)\s+(?:you|your)\b[^,;]*?\b(?:terminat\w*|ends?|clos\w*|log\s+out|delete\s+your\s+account)\b/iu,
  /\bdurante\s+el\s+tiempo\s+(?:que\s+sea\s+)?necesario\b/iu,
  /\b(?:per[ií]odo|plazo)\s+(?:de\s+tiempo\s+)?(?:apropiado|razonable|necesario)\b/iu,
  /\blo\s+antes\s+posible\b/iu,
].map(unicodeWords);

/**
 * The promises a policy's text makes about how long data is kept and how soon requests
 * are answered. Pure: text in, promises out. A period comes only from a number with a
 * unit in the text; a promise without one is listed as undecided, never given a period.
 */
export function findPromises(text: string): PolicyPromises {
  const out: PolicyPromises = { promises: [], undecided: [], setAside: [] };
  for (const sentence of sentencesOf(toPlainLines(text))) {
    const { periods, setAside } = findPeriods(sentence.text);
    for (const aside of setAside) out.setAside.push({ ...aside, ...where(sentence) });
    const retention = RETENTION_LANGUAGE.test(sentence.text);
    for (const period of periods) {
      const anchor = anchorOf(sentence.text, period.index, period.text.length);
      const kind = anchor === 'request-received' ? 'deadline' : 'retention';
      const category = categoryOf(sentence.text, kind === 'deadline');
      // Without words of keeping or deleting, a period still counts when the sentence says
      // what data it is about and what it is counted from ("your photo ... for 180 days from
      // the date you pay"); otherwise it is a duration of something else (a trial, a notice).
      if (!retention && (anchor === undefined || category === undefined)) {
        out.setAside.push({ text: period.text, reason: 'no words of keeping, deleting or answering in the sentence', ...where(sentence) });
        continue;
      }
      out.promises.push({
        kind,
        period: period.text,
        amount: period.amount,
        unit: period.unit,
        duration: period.duration,
        ...(anchor === undefined ? {} : { anchor }),
        ...(category === undefined ? {} : { category }),
        ...where(sentence),
      });
    }
    if (periods.length > 0 || !retention) continue;
    const vague = WITHOUT_PERIOD.map((re) => re.exec(sentence.text)).find((m) => m !== null);
    if (vague) out.undecided.push({ ...where(sentence), reason: `no period: "${vague[0]}"` });
  }
  return out;
}

const where = (sentence: Sentence): { sentence: string; section?: string } =>
  sentence.section === undefined ? { sentence: sentence.text } : { sentence: sentence.text, section: sentence.section };
