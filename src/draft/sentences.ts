import type { PlainLine } from './plain-text.js';

/** One sentence of a policy and the section it stands in. */
export interface Sentence {
  text: string;
  /** The heading above it, and a run-in label ("Processing Time:") when its paragraph has one. */
  section?: string;
}

const TERMINAL = /[.!?:;|,。；：]$/;
const NUMBERED = /^(?:\d+(?:\.\d+)*\s*[.:)、]?\s*\S|\(\s*[\divxlcIVXLC]+\s*\)|[IVXLC]+[.,]\s|[ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩ]+[.,]?\s|(?:part|chapter|section|article)\s+\w+|(?:one|two|three|four|five|six|seven|eight|nine|ten)\s*,\s)/i;
const LIST_MARKER = /^(?:[•·▪◦‣●○■□*-]\s*|\d{1,3}\s*[.)、](?!\d)\s*|\(\s*(?:\d{1,3}|[ivxlc]+|[a-z])\s*\)\s*)/iu;
const ABBREVIATIONS = new Set(['e.g', 'i.e', 'etc', 'no', 'nos', 'co', 'ltd', 'inc', 'corp', 'mr', 'mrs', 'ms', 'dr', 'st', 'vs', 'approx', 'art', 'sec', 'cf', 'u.s', 'u.k', 'a.m', 'p.m', 'seq', 'al', 'fig', 'ref']);

/** True for a line that reads as a heading: short, not a sentence, numbered or titled. */
function looksLikeHeading(text: string): boolean {
  if (text.length > 90 || TERMINAL.test(text) || !/\p{L}/u.test(text) || text.includes('|')) return false;
  // "Company name: Wuxi Leqi Technology Co., LTD" is a label and its value, not a heading.
  if (/:\s/.test(text) && !NUMBERED.test(text)) return false;
  const words = text.split(/\s+/).filter((w) => /\p{L}/u.test(w));
  if (words.length === 0 || words.length > 12) return false;
  if (NUMBERED.test(text) || text.endsWith('?') || words.length <= 6) return true;
  const long = words.filter((w) => w.replace(/[^\p{L}]/gu, '').length >= 4);
  const capitalised = long.filter((w) => /^[^\p{L}]*\p{Lu}/u.test(w));
  return long.length > 0 && capitalised.length / long.length >= 0.6;
}

/**
 * Lines into paragraphs: a line continues the one before when that one did not end a
 * sentence and this one does not start a new item (hard-wrapped text: "kept for six\n
 * months"). Blank lines and headings always end a paragraph.
 */
function paragraphs(lines: readonly PlainLine[]): PlainLine[] {
  const out: PlainLine[] = [];
  let open: PlainLine | undefined;
  for (const line of lines) {
    const text = line.text.replace(/\s+/g, ' ').trim();
    if (text === '') {
      open = undefined;
      continue;
    }
    const continues = open !== undefined && !open.heading && !line.heading && !/[.!?:;|。；：]$/.test(open.text) && /^(?:[\p{Ll}(]|\d+[\s-])/u.test(text) && !LIST_MARKER.test(text);
    if (continues && open) {
      open.text = `${open.text} ${text}`;
      continue;
    }
    open = line.heading ? { text, heading: true } : { text };
    out.push(open);
  }
  return out;
}

/** The sentences of a paragraph: ends at . ! ? ; (not after "e.g." or "No."), kept whole otherwise. */
export function splitSentences(paragraph: string): string[] {
  const out: string[] = [];
  let start = 0;
  // "...or use.Your personal data will...": a period and a capitalised word with no space between.
  for (const m of paragraph.matchAll(/[.!?;。；]+["'”’)\]]*\s+|(?<=\p{Ll}{2})\.(?=\p{Lu}\p{Ll})/gu)) {
    const end = m.index + m[0].trimEnd().length;
    const next = paragraph.slice(m.index + m[0].length);
    if (m[0] === '.') {
      // The glued form: split only here, the lookarounds already checked the words.
    } else if (m[0].startsWith('.') && m[0].trimEnd().length === 1) {
      const word = /([\p{L}.]+)$/u.exec(paragraph.slice(start, m.index))?.[1] ?? '';
      // An abbreviation or an initial does not end a sentence; nor does a period before a lower-case word.
      if (ABBREVIATIONS.has(word.toLowerCase()) || /^\p{Lu}$/u.test(word) || /^\p{Ll}/u.test(next)) continue;
    } else if (/^[!?]/.test(m[0]) && /^\p{Ll}/u.test(next)) {
      continue;
    }
    out.push(paragraph.slice(start, end).trim());
    start = m.index + m[0].length;
  }
  out.push(paragraph.slice(start).trim());
  return out.filter((s) => /\p{L}/u.test(s));
}

/** Every sentence of a policy in order, each with the section it stands in. */
export function sentencesOf(lines: readonly PlainLine[]): Sentence[] {
  const out: Sentence[] = [];
  let heading: string | undefined;
  for (const paragraph of paragraphs(lines)) {
    if (paragraph.heading || looksLikeHeading(paragraph.text)) {
      heading = paragraph.text;
      continue;
    }
    let text = paragraph.text.replace(LIST_MARKER, '').replace(/^\d{1,3}\.(?=\p{Lu})/u, '');
    // "Processing Time: We will process ...": the label names the part of the section.
    const label = /^((?:\p{Lu}[\p{L}'’-]*)(?:\s+[\p{L}'’-]+){0,4})\s*:\s+(?=\S)/u.exec(text);
    const section = label ? (heading ? `${heading} › ${label[1]}` : label[1]) : heading;
    if (label) text = text.slice(label[0].length);
    for (const sentence of splitSentences(text)) out.push(section === undefined ? { text: sentence } : { text: sentence, section });
  }
  return out;
}
