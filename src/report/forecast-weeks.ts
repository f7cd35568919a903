import { DateTime } from 'luxon';

/** How many weeks `retention forecast` looks ahead when not told, and at most. */
export const DEFAULT_FORECAST_WEEKS = 8;
export const MAX_FORECAST_WEEKS = 104;

const SECOND = 1_000;

/** One week of a forecast: items whose period ends at or after `start` and before `end`. */
export interface ForecastWeek {
  /** 1 for the coming week. */
  week: number;
  start: Date;
  end: Date;
}

/** The instants a forecast counts by. */
export interface ForecastWindows {
  /** Items expired at this instant are due now ("pending"): the last millisecond before week 1. */
  pendingAt: Date;
  weeks: ForecastWeek[];
}

/**
 * Pure: `count` consecutive weeks from `now`. Week 1 starts at the first whole second after
 * `now`, and each week ends where the next starts, seven calendar days later in `zone` (so
 * a week across a DST change is 167 or 169 hours, and each starts at the same wall-clock
 * time). Whole-second bounds keep every anchor bound of the weeks whole seconds too (see
 * `expiringBetween`). What expired by the start of week 1, within a second of `now`, is
 * pending: a sweep now would take it.
 */
export function forecastWindows(now: Date, count: number, zone: string): ForecastWindows {
  const first = Math.floor(now.getTime() / SECOND) * SECOND + SECOND;
  const local = DateTime.fromMillis(first, { zone });
  if (!local.isValid) throw new Error(`cannot place ${new Date(first).toISOString()} in time zone ${JSON.stringify(zone)}`);
  const boundary = (k: number) => new Date(local.plus({ weeks: k }).toMillis());
  const weeks = Array.from({ length: count }, (_, i) => ({ week: i + 1, start: boundary(i), end: boundary(i + 1) }));
  return { pendingAt: new Date(first - 1), weeks };
}
