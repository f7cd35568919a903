import { IANAZone, Info, type Zone } from 'luxon';
import type { AnchorRange } from '../../policy/expiry.js';

/**
 * A set of wall-clock readings (`DATETIME`/`DATE` values), as epoch milliseconds of the
 * same reading in UTC: `from` inclusive (null: unbounded below), `to` inclusive or, when
 * `toExclusive`, exclusive.
 */
export interface WallInterval {
  from: number | null;
  to: number;
  toExclusive: boolean;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** No zone's UTC offset has ever been beyond this (the extremes are -12:00 and +14:00). */
const MAX_OFFSET = 18 * HOUR;
/**
 * Around each bound, readings this far either side are examined piece by piece; further
 * in they certainly lie inside the range, further out certainly outside (|offset| < 18 h).
 */
const MARGIN = DAY;
/** Offset changes are at least weeks apart; sampling every 5 minutes finds each one (as in policy/expiry.ts). */
const SAMPLE_STEP = 5 * MINUTE;
/** 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999: the readings a DATETIME holds. */
const MIN_READING = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(1);
const MAX_READING = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * The wall-clock readings in `zone` whose instant lies in one of the (inclusive, epoch
 * ms) instant ranges: what a `DATETIME`/`DATE` anchor column is compared with, so that
 * MariaDB, which has no time zone data of ours, selects exactly the rows PostgreSQL's
 * `timestamp AT TIME ZONE zone` would.
 *
 * A reading stands for the instant PostgreSQL gives it: where the clock went back and a
 * reading happened twice, the later instant; where the clock jumped forward and a reading
 * never happened, the instant it names under the offset before the jump (02:30 during a
 * one-hour spring-forward gap is 03:30 by the new offset). Both are `reading - min(offset
 * before, offset after)`. Because readings in a gap share their instants with readings
 * after it, one instant range can be two reading intervals.
 */
export function wallClockIntervals(ranges: readonly AnchorRange[], zoneName: string): WallInterval[] {
  const zone = zoneOf(zoneName);
  const out: WallInterval[] = [];
  for (const range of ranges) out.push(...intervalsOf(range, zone));
  return merge(out).flatMap(clampToReadings);
}

export function zoneOf(name: string): Zone {
  const fixed = Info.normalizeZone(name);
  if (fixed.isValid && fixed.isUniversal) return fixed;
  const iana = IANAZone.create(name);
  if (!iana.isValid) throw new Error(`unknown time zone ${JSON.stringify(name)}`);
  return iana;
}

/** The offset (ms) by which `reading` stands for its instant: instant = reading - offset. */
export function readingOffset(zone: Zone, reading: number): number {
  const before = zone.offset(reading - MAX_OFFSET - DAY) * MINUTE;
  const after = zone.offset(reading + MAX_OFFSET + DAY) * MINUTE;
  const fits = (o: number) => zone.offset(reading - o) * MINUTE === o;
  if (before === after) return before; // no change near: the only reading
  const valid = [before, after].filter(fits);
  // One valid offset: an ordinary reading. Two (clock went back) or none (a gap): the later instant.
  return valid.length === 1 ? valid[0]! : Math.min(before, after);
}

function intervalsOf(range: AnchorRange, zone: Zone): WallInterval[] {
  const { from: a, to: b } = range;
  if (zone.isUniversal) {
    const o = zone.offset(b) * MINUTE;
    return [{ from: a === null ? null : a + o, to: b + o, toExclusive: false }];
  }
  const found: WallInterval[] = [];
  const window = (lo: number, hi: number) => {
    for (const piece of pieces(zone, lo, hi)) {
      const from = a === null ? piece.from : Math.max(piece.from, a + piece.offset);
      const last = b + piece.offset;
      const interval = last < piece.to ? { from, to: last, toExclusive: false } : { from, to: piece.to, toExclusive: true };
      if (interval.toExclusive ? interval.from < interval.to : interval.from <= interval.to) found.push(interval);
    }
  };
  if (a === null) {
    found.push({ from: null, to: b - MARGIN, toExclusive: true });
    window(b - MARGIN, b + MARGIN);
  } else if (b - a > 2 * MARGIN) {
    window(a - MARGIN, a + MARGIN);
    found.push({ from: a + MARGIN, to: b - MARGIN, toExclusive: true });
    window(b - MARGIN, b + MARGIN);
  } else {
    window(a - MARGIN, b + MARGIN);
  }
  return found;
}

/** Readings `[lo, hi)` cut where their offset changes: `[from, to)` each, with its offset. */
function pieces(zone: Zone, lo: number, hi: number): { from: number; to: number; offset: number }[] {
  const result: { from: number; to: number; offset: number }[] = [];
  let start = lo;
  let offset = readingOffset(zone, lo);
  let probe = lo;
  while (probe < hi) {
    const next = Math.min(probe + SAMPLE_STEP, hi);
    const nextOffset = readingOffset(zone, next);
    if (next < hi && nextOffset !== offset) {
      // First reading with the new offset: offset at `good` is the old one, at `bad` not.
      let good = probe;
      let bad = next;
      while (bad - good > 1) {
        const mid = Math.floor((good + bad) / 2);
        if (readingOffset(zone, mid) === offset) good = mid;
        else bad = mid;
      }
      result.push({ from: start, to: bad, offset });
      start = bad;
      offset = readingOffset(zone, bad);
    }
    probe = next;
  }
  result.push({ from: start, to: hi, offset });
  return result;
}

/** Sorted, with touching or overlapping intervals joined. */
function merge(intervals: WallInterval[]): WallInterval[] {
  const sorted = [...intervals].sort((x, y) => (x.from ?? -Infinity) - (y.from ?? -Infinity));
  const merged: WallInterval[] = [];
  for (const next of sorted) {
    const last = merged[merged.length - 1];
    // [x, y) then [y, z]: every reading from x to z. [x, y] then [y + 1 ms, z] stays two:
    // a reading with sub-millisecond digits between them is in neither.
    if (last && (next.from === null || next.from <= last.to)) {
      if (next.to > last.to || (next.to === last.to && !next.toExclusive)) {
        last.to = next.to;
        last.toExclusive = next.toExclusive;
      }
    } else {
      merged.push({ ...next });
    }
  }
  return merged;
}

/** Within the readings a DATETIME can hold: below year 1 is unbounded, beyond 9999 is the last reading. */
function clampToReadings(interval: WallInterval): WallInterval[] {
  if (interval.to < MIN_READING) return [];
  const from = interval.from === null || interval.from < MIN_READING ? null : interval.from;
  if (interval.to > MAX_READING) return [{ from, to: MAX_READING, toExclusive: false }];
  return [{ from, to: interval.to, toExclusive: interval.toExclusive }];
}

/** A reading as MariaDB reads a DATETIME(6) literal: `2026-02-28 12:00:00.000000`. */
export function readingText(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-02-28T12:00:00.000Z (years 1-9999 here)
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}
