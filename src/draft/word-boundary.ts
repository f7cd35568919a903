/**
 * `\b` in JavaScript knows only ASCII letters, even with the `u` flag: in "pagó" it finds
 * no end of word after "ó". Policies are not all English (LetsAI's is also in Spanish), so
 * patterns are written with `\b` and rewritten here to a boundary between Unicode letters
 * or digits and anything else.
 */
const BOUNDARY = '(?:(?<![\\p{L}\\p{N}_])(?=[\\p{L}\\p{N}_])|(?<=[\\p{L}\\p{N}_])(?![\\p{L}\\p{N}_]))';

/** The pattern with every `\b` a Unicode word boundary; always with the `u` flag. */
export function unicodeWords(pattern: RegExp): RegExp {
  const flags = pattern.flags.includes('u') ? pattern.flags : `${pattern.flags}u`;
  return new RegExp(pattern.source.replaceAll('\\b', BOUNDARY), flags);
}
