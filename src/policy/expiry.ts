import { DateTime, Duration, IANAZone, Info, type Zone } from 'luxon';
import { UserError } from '../errors.js';
import { isFixedLength } from './duration.js';

/**
 * An inclusive range of anchor instants, in epoch milliseconds. `from: null` is unbounded
 * below. A row is expired when its anchor lies in one of the ranges a rule's
 * `expiredRanges` returns.
 */
export interface AnchorRange {
  from: number | null;
  to: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * How far `anchor + retain` can run backwards as the anchor moves forwards. Month-end
 * clamping keeps the time of day but folds several days onto one (Aug 29, 30 and 31 plus
 * P6M all land on Feb 28), which can reverse order by up to a day; a DST change adds up
 * to two hours more. Beyond this distance the expiry time is ordered like the anchor.
 */
const MAX_REVERSAL = 2 * DAY;

/**
 * Pieces of `anchor + retain` are translations separated by local midnights and DST
 * changes, all at least 30 minutes apart in the time zone database since 1970; sampling
 * every 5 minutes finds every change of offset and refinement pins it to the millisecond.
 */
const SAMPLE_STEP = 5 * MINUTE;

/**
 * The anchors whose retention period has ended at `now`: exactly the `a` with
 * `DateTime(a, zone).plus(retain) <= now` (luxon's calendar arithmetic), as a sorted list
 * of disjoint ranges.
 *
 * A single cutoff (`a <= now - retain`) is wrong in both directions: at month ends it
 * keeps rows past their date (a log taken Aug 31 is due Feb 28, but `Feb 28 - P6M` is
 * Aug 28), and across a DST gap the expiry time is not monotone in the anchor. So this
 * finds, around `now - retain`, every piece on which `anchor + retain = anchor + k` and
 * keeps the part of each piece with `anchor + k <= now`. Below the window everything is
 * expired, above it nothing is; both are checked, not assumed.
 *
 * Times are whole milliseconds. Stores compare `anchor <= to` and `anchor >= from`, so an
 * anchor with sub-millisecond digits just past a bound is left for the next sweep, never
 * taken early.
 */
export function expiredRanges(now: number, retain: Duration, zone: string): AnchorRange[] {
  const iana = IANAZone.create(zone);
  if (!iana.isValid) throw new Error(`unknown time zone ${JSON.stringify(zone)}`);
  if (isFixedLength(retain)) return withinSqlYears([{ from: null, to: now - retain.as('milliseconds') }], now, retain);
  // UTC (and GMT) as luxon's own fixed-offset zone: the same instants, without asking Intl.
  const fixed = Info.normalizeZone(zone);
  const tz: Zone = fixed.isUniversal ? fixed : iana;

  const expiry = (a: number): number => DateTime.fromMillis(a, { zone: tz }).plus(retain).toMillis();
  const offsetAt = (a: number): number => expiry(a) - a;

  const guess = DateTime.fromMillis(now, { zone: tz }).minus(retain).toMillis();
  let lo = guess - 4 * DAY;
  let hi = guess + 4 * DAY;
  // Widen until the window provably brackets every expiry order reversal.
  for (let i = 0; expiry(lo) > now - MAX_REVERSAL; i++) {
    if (i > 20) throw new Error(`cannot bracket the expiry of ${retain.toISO()} in ${zone}`);
    lo -= 4 * DAY;
  }
  for (let i = 0; expiry(hi) <= now + MAX_REVERSAL; i++) {
    if (i > 20) throw new Error(`cannot bracket the expiry of ${retain.toISO()} in ${zone}`);
    hi += 4 * DAY;
  }

  const ranges: AnchorRange[] = [{ from: null, to: lo }];
  let start = lo + 1;
  let k = offsetAt(start);
  while (start <= hi) {
    const end = tz.isUniversal ? fixedOffsetPieceEnd(start, k, hi, offsetAt, tz.offset(start) * MINUTE) : pieceEnd(start, k, hi, offsetAt);
    addExpiredPart(ranges, start, end, now - k);
    start = end + 1;
    if (start <= hi) k = offsetAt(start);
  }
  return withinSqlYears(ranges, now, retain);
}

/** 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the instants PostgreSQL and ISO-8601 strings both read. */
// Date.UTC maps years 0-99 to 1900-1999, so year 1 is set explicitly.
const MIN_INSTANT = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(1);
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * Every bound inside years 1..9999, or a UserError: an instant outside them prints as
 * "+010000-..." or "0000-...", which PostgreSQL refuses (or reads as another year).
 * Retention periods (at most 1000 years) and `--now` are bounded so this never happens;
 * this keeps a bad instant from reaching SQL if they ever are not.
 */
function withinSqlYears(ranges: AnchorRange[], now: number, retain: Duration): AnchorRange[] {
  const outside = (ms: number) => !(ms >= MIN_INSTANT && ms <= MAX_INSTANT);
  if (ranges.some((r) => (r.from !== null && outside(r.from)) || outside(r.to))) {
    throw new UserError(`the expiry of ${retain.toISO()} at ${new Date(now).toISOString()} falls outside the years 1-9999 that PostgreSQL reads`);
  }
  return ranges;
}

/** The last millisecond, from `start` up to `limit`, before `anchor + retain - anchor` changes from `k`. */
function pieceEnd(start: number, k: number, limit: number, offsetAt: (a: number) => number): number {
  let probe = start;
  for (;;) {
    const next = Math.min(probe + SAMPLE_STEP, limit);
    if (next === probe) return limit;
    if (offsetAt(next) !== k) {
      // Binary search: offsetAt(good) === k, offsetAt(bad) !== k.
      let good = probe;
      let bad = next;
      while (bad - good > 1) {
        const mid = Math.floor((good + bad) / 2);
        if (offsetAt(mid) === k) good = mid;
        else bad = mid;
      }
      return good;
    }
    probe = next;
  }
}

/**
 * `pieceEnd` for a zone whose offset never changes. luxon adds the calendar part of a
 * duration to the local date and keeps the time of day, so `anchor + retain - anchor`
 * depends only on the anchor's local date: pieces can end only just before a local
 * midnight, and checking each midnight replaces sampling every five minutes.
 */
function fixedOffsetPieceEnd(start: number, k: number, limit: number, offsetAt: (a: number) => number, offsetMs: number): number {
  for (let midnight = (Math.floor((start + offsetMs) / DAY) + 1) * DAY - offsetMs; midnight <= limit; midnight += DAY) {
    if (offsetAt(midnight) !== k) return midnight - 1;
  }
  return limit;
}

/** Appends `[start, min(end, last)]` to the sorted ranges, merging with the previous one. */
function addExpiredPart(ranges: AnchorRange[], start: number, end: number, last: number): void {
  const to = Math.min(end, last);
  if (to < start) return;
  const previous = ranges[ranges.length - 1];
  if (previous && previous.to >= start - 1) previous.to = Math.max(previous.to, to);
  else ranges.push({ from: start, to });
}

/** True when `anchor` (epoch ms) lies in one of the ranges. */
export function inRanges(ranges: readonly AnchorRange[], anchor: number): boolean {
  return ranges.some((r) => (r.from === null || anchor >= r.from) && anchor <= r.to);
}
