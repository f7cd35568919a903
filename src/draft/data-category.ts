import { unicodeWords } from './word-boundary.js';

/**
 * The kind of data a promise is about, as far as the words say: "photos", "login logs",
 * "account data". The most specific kind named in the sentence wins ("login logs collected
 * to secure your data" is about login logs, not personal data in general).
 */
export type DataCategory =
  | 'face'
  | 'photo'
  | 'login-log'
  | 'log'
  | 'payment'
  | 'account'
  | 'document'
  | 'message'
  | 'cookie'
  | 'erasure-request'
  | 'opt-out-request'
  | 'access-request'
  | 'request'
  | 'personal-data';

/** Most specific first. */
const PATTERNS: ReadonlyArray<[DataCategory, RegExp]> = ([
  ['face', /\bfac(?:e|es|ial)\b|\bbiometric\w*|\bdatos\s+faciales\b/iu],
  ['photo', /\b(?:e-id\s+)?(?:photo(?:graph)?s?|pictures?|images?|selfies?|fotos?|fotograf[ií]as?)\b/iu],
  ['login-log', /\b(?:log-?in|sign-?in|access)\s+(?:logs?|records?|history)\b|\bregistros?\s+de\s+(?:inicio\s+de\s+sesi[oó]n|acceso)\b/iu],
  ['log', /\blogs\b|\blog\s+(?:files?|records?|data|entries)\b/iu],
  ['payment', /\b(?:payment|billing|transaction|order)\s+(?:data|information|details|records?|history)\b|\bcredit\s+card\w*|\binvoices?\b/iu],
  ['account', /\baccount\s+(?:data|information|details|records?|profiles?)\b|\bdatos\s+de\s+(?:la\s+)?cuenta\b/iu],
  ['document', /\b(?:business\s+)?documents?\b|\buploaded\s+files?\b/iu],
  ['message', /\b(?:messages?|chats?|recordings?|emails?)\b/iu],
  ['cookie', /\bcookies?\b/iu],
  ['opt-out-request', /\bopt-?out\b[^.]*\brequests?\b/iu],
  ['erasure-request', /\brequests?\s+to\s+(?:delete|erase)\b|\b(?:deletion|erasure)\s+requests?\b/iu],
  ['access-request', /\brequests?\s+to\s+(?:know|access)\b|\baccess\s+requests?\b/iu],
  ['request', /\b(?:requests?|inquir(?:y|ies)|complaints?|questions?|solicitud(?:es)?)\b/iu],
  ['personal-data', /\bpersonal\s+(?:data|information)\b|\byour\s+(?:data|information)\b|\binformaci[oó]n\s+personal\b|\bdatos\s+personales\b/iu],
] as Array<[DataCategory, RegExp]>).map(([category, re]) => [category, unicodeWords(re)]);

const REQUEST_KINDS: ReadonlySet<DataCategory> = new Set(['opt-out-request', 'erasure-request', 'access-request', 'request']);

/**
 * The kind of data a sentence names, most specific first. For a deadline (`requests`
 * true) only the kind of request counts; for a retention period requests are no data.
 */
export function categoryOf(sentence: string, requests: boolean): DataCategory | undefined {
  return PATTERNS.find(([category, re]) => REQUEST_KINDS.has(category) === requests && re.test(sentence))?.[0];
}
