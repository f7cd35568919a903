import cronParser from 'cron-parser';
import type { Schedule } from '../policy/rule.js';
import { lateMargin } from './late-after.js';

/** How many runs back the search for a late end looks: runs closer than the least margin are the only ones it passes over, and a schedule running every second passes about 900. */
const MAX_RUNS_BACK = 10_000;

/**
 * Pure: the latest instant (epoch ms) such that an item whose retention period ended then
 * and is still present at `now` makes its rule late, as `lateAfter` judges it: every end at
 * or before it is late now (`lateAfter(end) < now`), every later one is not (`lateAfter`
 * never decreases as the end moves later: a later end waits for the same scheduled sweep or
 * a later one). A store that cannot tell its oldest expired item can then count the items
 * expired as of this instant instead: any at all is the rule late, exactly as `status`
 * judges a rule whose oldest item it can read. Null for a manual rule (nothing says when
 * it should run).
 *
 * `every`: `now - (interval + margin) - 1`. Cron: the latest run before `now` whose
 * margin (by the gap to the run after it) has passed, found walking back run by run: an
 * end at or before it waits at most for it, an end after it for a run whose margin has not
 * passed. Throws when no run within `MAX_RUNS_BACK` qualifies, which no schedule the config
 * accepts gives.
 */
export function lateCutoff(schedule: Schedule, zone: string, now: number): number | null {
  if (schedule.kind === 'manual') return null;
  // lateAfter: end + ms + margin; late when that is < now, so the latest late end is 1 ms before equality.
  if (schedule.kind === 'every') return now - schedule.ms - lateMargin(schedule.ms) - 1;
  const forward = cronParser.parseExpression(schedule.pattern, { currentDate: new Date(now - 1), tz: zone });
  let after = forward.next().getTime();
  const back = cronParser.parseExpression(schedule.pattern, { currentDate: new Date(now), tz: zone });
  for (let i = 0; i < MAX_RUNS_BACK; i++) {
    const run = back.prev().getTime();
    // `lateAfter(run)` is `run + lateMargin(after - run)`: the run itself takes an item ending at it.
    if (run + lateMargin(after - run) < now) return run;
    after = run;
  }
  throw new Error(`schedule ${schedule.pattern}: no run in the last ${MAX_RUNS_BACK} is late enough to judge by`);
}
