import type { KeyRange } from '../store.js';

/** Column types whose keys can be split by arithmetic. */
export const INTEGER_KEY_TYPES = new Set(['int2', 'int4', 'int8']);

/**
 * Accept arithmetic ranges when they make at most this many times the batches that
 * walking the index would: keys with gaps give some short batches, never long ones.
 */
const MAX_BATCHES_FACTOR = 2;

/**
 * Batches for an integer key from its span alone, instead of walking the index (which
 * reads every key, a noticeable part of a sweep of a big table). A unique integer key
 * holds at most one row per value, so a range `size` values wide holds at most `size`
 * rows: batches are never longer than walking would make them, only shorter where keys
 * have gaps. The first and last ranges are open, so every key, including keys added
 * after planning, is covered exactly once. Returns null when the keys are too sparse
 * (more than MAX_BATCHES_FACTOR times the batches the estimated row count needs, or no
 * estimate): then walk the index.
 *
 * On dense keys this gives the same ranges as the walk: (null, lo-1+size], ..., then
 * open from the last multiple.
 */
export function denseKeyRanges(span: { lo: string; hi: string } | null, estimatedRows: number, size: number): KeyRange[] | null {
  if (span === null) return [{ after: null, upTo: null }];
  if (!(estimatedRows >= 0)) return null;
  const lo = BigInt(span.lo);
  const width = BigInt(size);
  const closed = (BigInt(span.hi) - lo + 1n) / width;
  const needed = Math.max(1, Math.ceil(estimatedRows / size));
  if (Number(closed) + 1 > MAX_BATCHES_FACTOR * needed + 1) return null;
  const ranges: KeyRange[] = [];
  let after: string | null = null;
  for (let i = 1n; i <= closed; i++) {
    const upTo = String(lo - 1n + i * width);
    ranges.push({ after, upTo });
    after = upTo;
  }
  ranges.push({ after, upTo: null });
  return ranges;
}
