import { Duration } from 'luxon';

/**
 * ISO-8601 durations as rules write them (`P180D`, `P6M`, `P3Y`, `PT12H`, `P1Y2M10DT2H`).
 * Only whole, positive numbers: a fractional month has no calendar meaning, and a
 * retention period of zero would delete data the moment it is written. The one exception
 * is a never-store rule (`never: true`), whose promise is exactly that: its `retain` is
 * zero (`PT0S`), which only `zero: 'allowed'` accepts and `parseRetain` reads.
 */
const ISO_DURATION =
  /^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** The longest duration accepted, in years of 365 days. */
export const MAX_DURATION_YEARS = 1000;

/**
 * Why `text` is not an acceptable retention duration, or undefined when it is. With `zero:
 * 'allowed'` a zero duration (`PT0S`, `P0D`) passes: the config's `retain`, where the
 * loader then requires `never: true` beside it (src/policy/load-config.ts).
 */
export function durationProblem(text: string, options: { zero?: 'allowed' } = {}): string | undefined {
  if (!ISO_DURATION.test(text)) {
    return `${JSON.stringify(text)} is not an ISO-8601 duration, e.g. P6M, P180D, P3Y or PT12H (whole numbers only)`;
  }
  const duration = Duration.fromISO(text);
  if (!duration.isValid || !Number.isFinite(duration.as('years'))) return `${JSON.stringify(text)} is not a duration luxon can read`;
  const ms = duration.as('milliseconds');
  if (ms === 0 && options.zero === 'allowed') return undefined;
  if (!(ms > 0)) return `${JSON.stringify(text)} is zero; a retention period must be positive`;
  // Beyond this the expiry of a row written today falls outside the years PostgreSQL and
  // JavaScript dates share (a 3000-year period is a typo, not a policy).
  if (duration.as('years') > MAX_DURATION_YEARS) return `${JSON.stringify(text)} is longer than ${MAX_DURATION_YEARS} years, the longest period accepted`;
  return undefined;
}

/** Parses a duration that `durationProblem` accepted. */
export function parseDuration(text: string): Duration {
  const problem = durationProblem(text);
  if (problem) throw new Error(problem);
  return Duration.fromISO(text);
}

/** True for a duration `durationProblem` accepts with `zero: 'allowed'` that is zero (`PT0S`, `P0D`, `PT0H0M`). */
export function isZeroDuration(text: string): boolean {
  return durationProblem(text, { zero: 'allowed' }) === undefined && Duration.fromISO(text).as('milliseconds') === 0;
}

/**
 * A rule's `retain`, as the planner reads it: positive, or zero for a never-store rule
 * (`never: true`; the loader allows zero nowhere else). A zero period expires an item at
 * its anchor: `anchor + PT0S <= now`.
 */
export function parseRetain(rule: { retain: string; never?: boolean }): Duration {
  const problem = durationProblem(rule.retain, rule.never === true ? { zero: 'allowed' } : {});
  if (problem) throw new Error(problem);
  return Duration.fromISO(rule.retain);
}

/**
 * True when adding the duration is the same as adding a fixed number of milliseconds
 * in every zone: only hours, minutes and seconds. Days are calendar days (23 or 25 hours
 * across a DST change), months and years clamp at month ends.
 */
export function isFixedLength(duration: Duration): boolean {
  const d = duration.shiftTo('years', 'months', 'weeks', 'days', 'hours', 'minutes', 'seconds', 'milliseconds');
  return d.years === 0 && d.months === 0 && d.weeks === 0 && d.days === 0;
}
