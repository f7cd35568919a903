import { planSweep } from '../planner/plan-sweep.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { exceptHeld, expired } from '../stores/selection.js';
import { lateCutoff } from './late-cutoff.js';

/**
 * A rule's lag as a store without `oldestPending` (Redis, files, S3, module stores) can
 * tell it: by counting, not by the oldest item. It says whether any item is late (past its
 * end by more than `thresholdMs`), and whether any expired item is present at all, but
 * never how long ago the oldest one reached its end.
 */
export interface CountedLag {
  kind: 'counted';
  /** Items expired now and still present; null when not counted (some are late already: that says it). */
  pending: number | null;
  /** Items past their end by more than `thresholdMs`, so late by the rule's schedule; null when not judged (a manual rule, a rule on hold). */
  late: number | null;
  /**
   * How far past its end an item may be now without its rule being late (`lateCutoff`):
   * the schedule's interval plus the margin, or for a cron schedule what its runs give at
   * this instant. Null when not judged.
   */
  thresholdMs: number | null;
  /** True when items of held subjects could not be left out (no audit key to open the held ids): the counts may include them. */
  heldIncluded: boolean;
}

/**
 * One or two counts of the rule's store, with the sweep's own selection: the items expired
 * as of the latest end that is late now (`lateCutoff`), then, when there are none, the items
 * expired now. Items of held subjects are left out as a sweep leaves them (`held`; null when
 * they cannot be opened: counted, and said). A manual rule or one on hold is not judged:
 * only the items expired now are counted. A store that cannot count throws, as it does for
 * `plan`; the caller reports the lag unknown.
 */
export async function countedLag(runtime: Runtime, rule: Rule, now: Date, held: readonly string[] | null, onHold: boolean): Promise<CountedLag> {
  const store = runtime.storeFor(rule);
  const context = runtime.contextFor(rule);
  // An `expire` rule's count also counts the TTLs its sweep would set on keys not yet due;
  // the keys past their end and still present are those the same target's delete rule selects.
  const counted: Rule = rule.action === 'expire' ? { ...rule, action: 'delete' } : rule;
  const expiredAt = async (at: number): Promise<number> => {
    const ranges = planSweep(rule, new Date(at)).ranges;
    return ranges.length === 0 ? 0 : store.count(counted, exceptHeld(expired(ranges), held ?? []), context);
  };
  const heldIncluded = held === null;
  const cutoff = onHold ? null : lateCutoff(rule.schedule, rule.timezone, now.getTime());
  if (cutoff === null) return { kind: 'counted', pending: await expiredAt(now.getTime()), late: null, thresholdMs: null, heldIncluded };
  // `more than thresholdMs` past its end is exactly an end at or before the cutoff (whole milliseconds).
  const thresholdMs = now.getTime() - cutoff - 1;
  const late = await expiredAt(cutoff);
  if (late > 0) return { kind: 'counted', pending: null, late, thresholdMs, heldIncluded };
  return { kind: 'counted', pending: await expiredAt(now.getTime()), late: 0, thresholdMs, heldIncluded };
}
