import cronParser from 'cron-parser';
import type { Schedule } from '../policy/rule.js';

/** The least margin `retention status` allows past a rule's scheduled sweep, for the sweep's own run and queue delays. */
export const LATE_MARGIN_MS = 15 * 60_000;
/** ...or this fraction of the schedule's interval, when longer (a daily sweep of a backlog takes longer than an hourly one). */
export const LATE_MARGIN_FRACTION = 0.1;

/** The margin past a scheduled sweep for a schedule whose runs are `intervalMs` apart. */
export function lateMargin(intervalMs: number): number {
  return Math.max(LATE_MARGIN_MS, Math.round(intervalMs * LATE_MARGIN_FRACTION));
}

/**
 * Pure: the instant (epoch ms) after which an item whose retention period ended at `end`
 * and is still present means its rule is late, by the rule's schedule: the first scheduled
 * sweep that can take it, plus a margin (`lateMargin`). `every`: a sweep runs at most one
 * interval after `end`. Cron: the first run at or after `end` in `zone`, as BullMQ's
 * scheduler computes it; the margin then follows the gap to the run after it. Null for a
 * manual rule: nothing here says when it should run.
 */
export function lateAfter(schedule: Schedule, zone: string, end: number): number | null {
  if (schedule.kind === 'manual') return null;
  if (schedule.kind === 'every') return end + schedule.ms + lateMargin(schedule.ms);
  // A run at exactly `end` takes the item (its expiry is <= the run's now): start just before.
  const runs = cronParser.parseExpression(schedule.pattern, { currentDate: new Date(end - 1), tz: zone });
  const first = runs.next().getTime();
  const second = runs.next().getTime();
  return first + lateMargin(second - first);
}
