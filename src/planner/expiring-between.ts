import type { AnchorRange } from '../policy/expiry.js';
import type { Rule } from '../policy/rule.js';
import { planSweep } from './plan-sweep.js';

/**
 * Pure: the anchors of the rule's items whose retention period ends in `[from, to)` (epoch
 * ms): expired at `to - 1` and not at `from - 1`, each set as `planSweep` computes it, so
 * month ends and DST changes are judged exactly as a sweep judges them. For `retention
 * forecast`: the items a week will make due are counted with one selection, never as the
 * difference of two counts taken at different moments (a sweep deleting between them would
 * make a week negative).
 *
 * Expiry only grows with time (an item expired at `t` is expired at every later instant),
 * so consecutive windows `[a, b)`, `[b, c)` never share an anchor and together hold every
 * anchor that expires in `[a, c)`. With `from` and `to` whole seconds, every bound of the
 * result is too (a range starts at a second's first millisecond and ends at a second's
 * last), so stores that judge anchors by the whole second (Redis scores in seconds, S3
 * LastModified) put each item in exactly one window.
 */
export function expiringBetween(rule: Rule, from: number, to: number): AnchorRange[] {
  if (!(from < to)) return [];
  return subtractRanges(planSweep(rule, new Date(to - 1)).ranges, planSweep(rule, new Date(from - 1)).ranges);
}

/**
 * Pure: the anchors in `a` and not in `b`, both sorted lists of disjoint inclusive ranges
 * of whole milliseconds (as `expiredRanges` returns them); `from: null` is unbounded below.
 */
export function subtractRanges(a: readonly AnchorRange[], b: readonly AnchorRange[]): AnchorRange[] {
  const out: AnchorRange[] = [];
  for (const range of a) {
    let pieces = [{ from: range.from ?? -Infinity, to: range.to }];
    for (const cut of b) {
      const cutFrom = cut.from ?? -Infinity;
      pieces = pieces.flatMap((p) => {
        if (cut.to < p.from || cutFrom > p.to) return [p];
        return [...(cutFrom > p.from ? [{ from: p.from, to: cutFrom - 1 }] : []), ...(cut.to < p.to ? [{ from: cut.to + 1, to: p.to }] : [])];
      });
    }
    for (const p of pieces) out.push({ from: p.from === -Infinity ? null : p.from, to: p.to });
  }
  return out;
}
