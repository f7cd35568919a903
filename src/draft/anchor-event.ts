import { unicodeWords } from './word-boundary.js';

/**
 * The event a period is counted from, as far as the words say it: "from the date you
 * successfully pay", "after you log out", "inactive for", "of receiving the request".
 */
export type AnchorEvent = 'payment' | 'account-closure' | 'relationship-end' | 'collection' | 'last-activity' | 'request-received';

/** How the draft names each event to the person choosing the anchor column. */
export const ANCHOR_WORDS: Readonly<Record<AnchorEvent, string>> = {
  payment: 'the payment',
  'account-closure': 'the account closed, deleted or logged out of',
  'relationship-end': 'the end of the contract or relationship',
  collection: 'the data collected (acquired, uploaded, created)',
  'last-activity': 'the last activity (inactivity counts from it)',
  'request-received': 'receipt of the request',
};

const PATTERNS: ReadonlyArray<[AnchorEvent, RegExp]> = ([
  ['request-received', /\b(?:receiv\w*|receipt\s+of)\s+(?:the\s+|your\s+|a\s+)?(?:request|inquiry|complaint)s?\b|\b(?:respond|reply|answer|get\s+back\s+to\s+you|responder)\w*|\bpondremos\s+en\s+contacto\b|\brequests?\b|\bsolicitud(?:es)?\b/giu],
  ['account-closure', /\blog(?:s|ged)?\s*(?:out|off)\b|\blogout\b|\b(?:clos\w*|delet\w*|deactivat\w*|cancel\w*|terminat\w*)\s+(?:of\s+)?(?:your\s+|the\s+|an\s+)?account\b|\baccount\s+(?:closure|deletion|cancell?ation|termination)\b|\bderegist\w*|\bcerrar\s+sesi[oó]n\b/giu],
  ['relationship-end', /\b(?:end|ends|ended|termination|terminates?|terminated|expiry|expiration)\b(?:\s+\S+){0,6}?\s+(?:relationship|contract|agreement|subscription)\b/giu],
  ['last-activity', /\binactiv\w*|\blast\s+(?:login|log-in|sign-in|activity|use|used|visit|access)\b|\binactividad\b/giu],
  ['payment', /\b(?:pay|pays|paid|paying|payment|purchase[sd]?|purchasing)\b|\bpag(?:o|ó|ar|ado|aste|ue)\b/giu],
  ['collection', /\b(?:acqui(?:red|sition)|collect(?:ed|ion)|upload(?:ed|ing)?|creat(?:ed|ion)|recorded|generated|captured|obtained)\b|\brecopila\w*/giu],
] as Array<[AnchorEvent, RegExp]>).map(([event, re]) => [event, unicodeWords(re)]);

/** What follows a period and says what it counts from, up to the end of its clause. */
const FOLLOWING_CLAUSE = unicodeWords(/^\s*(?:(?:counted\s+)?(?:from|after|since|following|of|starting|a\s+partir\s+de|desde|despu[eé]s\s+de)\b)[^,;]*/iu);

/**
 * The event the period at `index` in `sentence` counts from: first what follows it in
 * its own clause ("six (6) months from the date of acquisition"), then the nearest word
 * naming an event anywhere in the sentence; undefined when none does.
 */
export function anchorOf(sentence: string, index: number, length: number): AnchorEvent | undefined {
  const rest = sentence.slice(index + length);
  const clause = FOLLOWING_CLAUSE.exec(rest)?.[0];
  if (clause) {
    const first = earliest(clause);
    if (first) return first;
  }
  let best: { event: AnchorEvent; distance: number } | undefined;
  for (const [event, re] of PATTERNS) {
    for (const m of sentence.matchAll(re)) {
      const distance = m.index < index ? index - (m.index + m[0].length) : m.index - (index + length);
      if (!best || distance < best.distance) best = { event, distance };
    }
  }
  return best?.event;
}

/** The event named first in a clause. */
function earliest(clause: string): AnchorEvent | undefined {
  let best: { event: AnchorEvent; at: number } | undefined;
  for (const [event, re] of PATTERNS) {
    for (const m of clause.matchAll(re)) if (!best || m.index < best.at) best = { event, at: m.index };
  }
  return best?.event;
}
