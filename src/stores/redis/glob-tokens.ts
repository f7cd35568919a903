/**
 * One element of a Redis glob (SCAN MATCH): `*`, `?`, a `[...]` class, or one literal byte.
 */
export type GlobToken = { kind: 'star' } | { kind: 'any' } | { kind: 'set'; has: (byte: number) => boolean } | { kind: 'byte'; byte: number };

const BACKSLASH = 0x5c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const CARET = 0x5e;
const DASH = 0x2d;
const STAR = 0x2a;
const QUESTION = 0x3f;
/** Every byte value, for testing what a class admits. */
export const BYTES = Array.from({ length: 256 }, (_, b) => b);

/**
 * A glob read as Redis reads it (`stringmatchlen`): bytes, `\` escaping the next byte,
 * `[^a-z]` classes (`\` escapes inside them too), an unclosed `[` running to the end.
 */
export function tokenize(p: Buffer): GlobToken[] {
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === STAR) {
      tokens.push({ kind: 'star' });
      i++;
    } else if (c === QUESTION) {
      tokens.push({ kind: 'any' });
      i++;
    } else if (c === BACKSLASH && i + 1 < p.length) {
      tokens.push({ kind: 'byte', byte: p[i + 1]! });
      i += 2;
    } else if (c === OPEN) {
      i = readSet(p, i + 1, tokens);
    } else {
      tokens.push({ kind: 'byte', byte: c });
      i++;
    }
  }
  return tokens;
}

/** Reads a class after its `[`; returns the index after its `]` (or the pattern's end). */
function readSet(p: Buffer, start: number, tokens: GlobToken[]): number {
  let i = start;
  const negated = p[i] === CARET;
  if (negated) i++;
  const singles = new Set<number>();
  const ranges: [number, number][] = [];
  while (i < p.length && p[i] !== CLOSE) {
    if (p[i] === BACKSLASH && i + 1 < p.length) {
      singles.add(p[i + 1]!);
      i += 2;
    } else if (i + 2 < p.length && p[i + 1] === DASH) {
      const [a, b] = [p[i]!, p[i + 2]!];
      ranges.push(a <= b ? [a, b] : [b, a]);
      i += 3;
    } else {
      singles.add(p[i]!);
      i++;
    }
  }
  const inSet = (byte: number) => singles.has(byte) || ranges.some(([a, b]) => byte >= a && byte <= b);
  tokens.push({ kind: 'set', has: negated ? (byte) => !inSet(byte) : inSet });
  return i + 1;
}
