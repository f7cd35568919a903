import { DateTime, Duration } from 'luxon';

/**
 * Anchors at known ages for a rule's period, relative to one `now` taken when a test
 * builds its data. The run comes seconds later, so every anchor keeps its verdict as long
 * as it stays more than GUARD away from the instant its period ends, which each function
 * checks with the planner's own arithmetic (luxon `plus`, UTC): a month-end, where
 * `now - P6M + P6M` is not `now`, cannot turn a "not yet" row into an expired one.
 *
 * At a month end the distances are not the nominal ones, for month and year periods (day
 * periods such as P30D or P180D add exact days): with `now` 2026-08-31T12:00Z and P6M,
 * - `justExpired` is 2026-02-28T11:00Z (`now - P6M` clamps to 28 February), whose period
 *   ended on 28 August: three days and an hour before `now`, not one hour;
 * - `notYet` is 2026-03-01T00:00Z: no anchor's period ends between 28 August and
 *   1 September, so the first that ends after `now` ends at 2026-09-01T00:00Z, twelve hours
 *   after `now`, not one.
 * known-ages.test.ts checks both. What is guaranteed is the verdict, at least GUARD from
 * the edge, never the exact distance; a test that needs an exact edge computes it itself.
 * `ago()` is not checked: use it only for anchors far from every rule's edge.
 */

/** How far from its end an anchor at the edge is: far beyond the test's own duration. */
const EDGE = Duration.fromObject({ hours: 1 });
/** The least distance from its end any anchor here keeps at `now`. */
const GUARD = Duration.fromObject({ minutes: 30 });

export interface KnownAges {
  now: DateTime;
  /** Expired long ago: its period ended `extra` (default 30 days) before `now`. */
  longExpired(retain: string, extra?: Duration): DateTime;
  /** Expired by one hour (a month or year period at a month end: by up to three days more). */
  justExpired(retain: string): DateTime;
  /** Not expired yet: its period ends about one hour after `now` (a month or year period at a month end: up to a day after). */
  notYet(retain: string): DateTime;
  /** Written `ago` before `now`, e.g. { days: 2 }: not checked against any period. */
  ago(ago: Record<string, number>): DateTime;
}

const ends = (anchor: DateTime, retain: string) => anchor.plus(Duration.fromISO(retain));

export function knownAges(now: DateTime = DateTime.utc()): KnownAges {
  const check = (anchor: DateTime, retain: string, expired: boolean): DateTime => {
    const end = ends(anchor, retain);
    const ok = expired ? end <= now.minus(GUARD) : end >= now.plus(GUARD);
    if (!ok) throw new Error(`anchor ${anchor.toISO()} + ${retain} = ${end.toISO()} is too close to now ${now.toISO()}`);
    return anchor;
  };
  return {
    now,
    longExpired: (retain, extra = Duration.fromObject({ days: 30 })) => check(now.minus(Duration.fromISO(retain)).minus(extra), retain, true),
    justExpired: (retain) => check(now.minus(Duration.fromISO(retain)).minus(EDGE), retain, true),
    notYet(retain) {
      // `now - retain + 1 h`, moved later an hour at a time while a month end clamps its
      // end back before `now + GUARD` (Aug 31 - P6M = Feb 28, + P6M = Aug 28).
      let anchor = now.minus(Duration.fromISO(retain)).plus(EDGE);
      while (ends(anchor, retain) < now.plus(GUARD)) anchor = anchor.plus({ hours: 1 });
      return check(anchor, retain, false);
    },
    ago: (ago) => now.minus(ago),
  };
}

/** The instant as PostgreSQL reads a timestamptz literal. */
export const pgTime = (t: DateTime | null): string | null => (t === null ? null : t.toUTC().toISO());

/** The instant as a MySQL TIMESTAMP literal, for a session at time_zone '+00:00'. */
export const mysqlTime = (t: DateTime | null): string | null => (t === null ? null : t.toUTC().toFormat('yyyy-MM-dd HH:mm:ss'));
