import { parseRetain } from '../policy/duration.js';
import { expiredRanges, type AnchorRange } from '../policy/expiry.js';
import type { Rule } from '../policy/rule.js';

/** What a sweep will do, decided before it touches anything. */
export interface SweepPlan {
  ruleId: string;
  /** The instant expiry is judged at. */
  now: Date;
  /** Anchors in these ranges are expired at `now`. */
  ranges: AnchorRange[];
}

/**
 * Pure: rule + now -> expired anchor ranges. `cache` lets a caller planning many rules at
 * one `now` compute each (retain, zone) pair once.
 */
export function planSweep(rule: Rule, now: Date, cache?: Map<string, AnchorRange[]>): SweepPlan {
  // Read before the cache: a zero `retain` is a period only beside `never: true`, and a
  // rule without it must be refused even when a never-store rule cached the same text.
  const retain = parseRetain(rule);
  const key = `${rule.retain}|${rule.timezone}`;
  let ranges = cache?.get(key);
  if (!ranges) {
    // A never-store rule's zero period: every anchor up to `now`.
    ranges = expiredRanges(now.getTime(), retain, rule.timezone);
    cache?.set(key, ranges);
  }
  return { ruleId: rule.id, now, ranges: ranges.map((r) => ({ ...r })) };
}

/** Ranges as ISO strings, for audit entries and the state database. */
export function rangesToJson(ranges: readonly AnchorRange[]): { from: string | null; to: string }[] {
  return ranges.map((r) => ({ from: r.from === null ? null : new Date(r.from).toISOString(), to: new Date(r.to).toISOString() }));
}

export function rangesFromJson(json: readonly { from: string | null; to: string }[]): AnchorRange[] {
  return json.map((r) => ({ from: r.from === null ? null : Date.parse(r.from), to: Date.parse(r.to) }));
}
