import type { KeyRange } from './store.js';

/** Ranges tiling the key space at `bounds` (ascending keys as text): (null, b1], (b1, b2], ..., (bn, null). */
export function boundedRanges(bounds: readonly string[]): KeyRange[] {
  const ranges: KeyRange[] = [];
  let after: string | null = null;
  for (const upTo of bounds) {
    ranges.push({ after, upTo });
    after = upTo;
  }
  ranges.push({ after, upTo: null });
  return ranges;
}
