import { expiringBetween } from '../planner/expiring-between.js';
import { planSweep } from '../planner/plan-sweep.js';
import type { Rule } from '../policy/rule.js';
import { redactText } from '../redact.js';
import type { Runtime } from '../runtime/runtime.js';
import type { HoldRecord } from '../state/holds.js';
import { exceptHeld, expired, type Selection } from '../stores/selection.js';
import { forecastWindows, type ForecastWeek } from './forecast-weeks.js';
import { readRuleHolds } from './rule-holds.js';

/** One rule's forecast. */
export interface RuleForecast {
  rule: Rule;
  /** What the store shows for the rule's target (`public.logs`, `session:*`). */
  target: string;
  /** Items already past their end and still present: what a sweep now would take. Null when the store could not count. */
  pending: number | null;
  /** Per week (as `Forecast.weeks`), the items whose period ends in it; null when the store could not count. */
  weeks: number[] | null;
  /** Why the rule could not be counted (the store's error); null when it was. */
  error: string | null;
  /**
   * Items of subjects on legal hold: `excluded` from the figures (a sweep keeps them),
   * `included` when they could not be told apart (no `RETENTION_AUDIT_KEY` to open the held
   * ids), `none` when no subject hold reaches the rule.
   */
  held: 'none' | 'excluded' | 'included';
  /** A hold that stops the whole rule: nothing is removed while it lasts, whatever the figures say. */
  ruleHold: HoldRecord | null;
}

export interface Forecast {
  now: Date;
  pendingAt: Date;
  weeks: ForecastWeek[];
  rules: RuleForecast[];
}

/**
 * For each rule and each of the `count` weeks after `now`, how many items reach the end of
 * their retention period in that week, from their anchors: the store's `count` over the
 * anchors that expire in the week (`expiringBetween`), without the items of held subjects
 * (`exceptHeld`, as the sweep leaves them out). Holds are judged at `now`; a subject hold
 * with an `until` lets its subject's items go in the week it lapses: those whose period
 * ended before are counted there, the later ones in their own week. Items whose anchor is missing or cannot be
 * judged never expire and are in no week. Changes nothing. A store that cannot count (it
 * does not answer, its table is gone) is reported on its rule; the other rules are counted.
 */
export async function forecastRules(runtime: Runtime, rules: readonly Rule[], now: Date, count: number): Promise<Forecast> {
  const { pendingAt, weeks } = forecastWindows(now, count, runtime.config.timezone);
  // Holds judged at the forecast's now (`--now` may be another instant than the clock's).
  const holdsOf = await readRuleHolds(runtime, now);
  const results: RuleForecast[] = [];
  for (const rule of rules) {
    const store = runtime.storeFor(rule);
    const holds = holdsOf(rule);
    const held = holds.subjectHolds === 0 ? 'none' : holds.held === null ? 'included' : 'excluded';
    const base = { rule, target: store.describe(rule), held, ruleHold: holds.ruleHold } as const;
    const select = (selection: Selection) => exceptHeld(selection, holds.held ?? []);
    // An `expire` rule's count also counts the TTLs a sweep would set on keys not yet due
    // (what its sweep does to them); the keys that reach their end are those the same
    // target's delete rule selects, which Redis then deletes at that instant by itself.
    const counted: Rule = rule.action === 'expire' ? { ...rule, action: 'delete' } : rule;
    try {
      const context = runtime.contextFor(rule);
      const pending = await store.count(counted, select(expired(planSweep(rule, pendingAt).ranges)), context);
      const counts: number[] = [];
      const until = holds.heldUntil ?? new Map<string, Date | null>((holds.held ?? []).map((s) => [s, null]));
      for (const [i, week] of weeks.entries()) {
        const start = week.start.getTime();
        const end = week.end.getTime();
        // A held subject's item is removed when both its period and its hold have ended: in
        // this week if its period ends here and its hold lapses before the week ends ...
        const heldPast = [...until].filter(([, u]) => u === null || u.getTime() >= end).map(([s]) => s);
        const ranges = expiringBetween(rule, start, end);
        let n = ranges.length === 0 ? 0 : await store.count(counted, exceptHeld(expired(ranges), heldPast), context);
        // ... or if its period ended earlier and its hold lapses in this week (the first week
        // also takes a lapse within the second before it). Counted as the count with those
        // subjects let go minus the count without: a sweep running between the two can shift it.
        const lapsing = new Set([...until].filter(([, u]) => u !== null && u.getTime() < end && (i === 0 || u.getTime() >= start)).map(([s]) => s));
        if (lapsing.size > 0) {
          const before = expired(planSweep(rule, new Date(start - 1)).ranges);
          const all = [...until.keys()];
          const withLapsing = await store.count(counted, exceptHeld(before, all.filter((s) => !lapsing.has(s))), context);
          const without = await store.count(counted, exceptHeld(before, all), context);
          n += Math.max(0, withLapsing - without);
        }
        counts.push(n);
      }
      results.push({ ...base, pending, weeks: counts, error: null });
    } catch (error) {
      results.push({ ...base, pending: null, weeks: null, error: redactText((error as Error).message ?? String(error)) });
    }
  }
  return { now, pendingAt, weeks, rules: results };
}
