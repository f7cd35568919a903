import { describe, expect, it } from 'vitest';
import { DateTime, Duration } from 'luxon';
import { expiredRanges, inRanges } from '../../src/policy/expiry.js';

const ms = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toMillis();
const expiredBy = (anchor: number, retain: string, zone: string, now: number) =>
  DateTime.fromMillis(anchor, { zone }).plus(Duration.fromISO(retain)).toMillis() <= now;

describe('expiredRanges', () => {
  it('expires a row exactly at anchor + retain and keeps it one second before', () => {
    const now = ms('2026-08-28T13:00:00');
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');
    expect(inRanges(ranges, ms('2026-02-28T13:00:00'))).toBe(true);
    expect(inRanges(ranges, ms('2026-02-28T13:00:01'))).toBe(false);
    expect(inRanges(ranges, ms('2026-02-28T12:59:59'))).toBe(true);
  });

  it('expires month-end anchors on the clamped day, not weeks later', () => {
    // Aug 31 + P6M is Feb 28 (2027 is not a leap year): due at Feb 28 12:00, not Mar 3.
    const now = ms('2027-02-28T12:00:00');
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');
    expect(inRanges(ranges, ms('2026-08-31T12:00:00'))).toBe(true);
    expect(inRanges(ranges, ms('2026-08-30T11:00:00'))).toBe(true);
    // Aug 29 at 18:00 is due Feb 28 at 18:00: still six hours to go.
    expect(inRanges(ranges, ms('2026-08-29T18:00:00'))).toBe(false);
    expect(inRanges(ranges, ms('2026-08-31T12:00:01'))).toBe(false);
    expect(ranges.length).toBeGreaterThan(1);
  });

  it('handles leap days: Feb 29 + P1Y is due Feb 28, and P1Y from Feb 28 of a leap year a year later', () => {
    const now = ms('2025-02-28T00:00:00');
    const ranges = expiredRanges(now, Duration.fromISO('P1Y'), 'UTC');
    expect(inRanges(ranges, ms('2024-02-29T00:00:00'))).toBe(true);
    expect(inRanges(ranges, ms('2024-02-29T00:00:01'))).toBe(false);
    expect(inRanges(ranges, ms('2024-02-28T00:00:00'))).toBe(true);
    expect(inRanges(ranges, ms('2024-03-01T00:00:00'))).toBe(false);
  });

  it('counts P1D as a calendar day across a DST change in a non-UTC zone', () => {
    const zone = 'Europe/Berlin';
    // Clocks go forward on 2026-03-29: that day has 23 hours.
    const anchor = ms('2026-03-28T12:00:00', zone);
    const due = ms('2026-03-29T12:00:00', zone);
    expect(due - anchor).toBe(23 * 3600_000);
    expect(inRanges(expiredRanges(due, Duration.fromISO('P1D'), zone), anchor)).toBe(true);
    expect(inRanges(expiredRanges(due - 1000, Duration.fromISO('P1D'), zone), anchor)).toBe(false);
  });

  it('is exact where luxon puts later anchors earlier (DST gap), leaving two ranges', () => {
    const zone = 'Europe/Berlin';
    const now = Date.parse('2026-03-29T01:15:00Z');
    const ranges = expiredRanges(now, Duration.fromISO('P1D'), zone);
    // 03:00 CET on the 28th + P1D = 03:00 CEST = 01:00Z: expired.
    expect(inRanges(ranges, ms('2026-03-28T03:00:00', zone))).toBe(true);
    // 02:29 + P1D falls in the gap and is pushed to 03:29 CEST = 01:29Z: not yet.
    expect(inRanges(ranges, ms('2026-03-28T02:29:00', zone))).toBe(false);
  });

  it('treats a fixed-length retention as exact milliseconds', () => {
    const now = ms('2026-03-29T12:00:00', 'Europe/Berlin');
    const ranges = expiredRanges(now, Duration.fromISO('PT12H'), 'Europe/Berlin');
    expect(ranges).toEqual([{ from: null, to: now - 12 * 3600_000 }]);
  });

  it('agrees with luxon on every sampled anchor near the boundary (randomised)', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata'];
    const retains = ['P6M', 'P180D', 'P1Y', 'P3Y', 'P1M', 'P1D', 'P1M1D', 'P5Y', 'P2W', 'P1DT12H'];
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let checked = 0;
    for (let i = 0; i < 60; i++) {
      const zone = zones[i % zones.length]!;
      const retain = retains[i % retains.length]!;
      // nows cluster around month ends and DST changes, where the arithmetic is hard
      const now = Date.parse('2020-01-01T00:00:00Z') + Math.floor(rand() * 7 * 365) * 86400_000
        + Math.floor(rand() * 86400_000);
      const ranges = expiredRanges(now, Duration.fromISO(retain), zone);
      const guess = DateTime.fromMillis(now, { zone }).minus(Duration.fromISO(retain)).toMillis();
      for (let j = 0; j < 400; j++) {
        const anchor = guess + Math.floor((rand() - 0.5) * 10 * 86400_000);
        expect(inRanges(ranges, anchor), `${zone} ${retain} now=${new Date(now).toISOString()} anchor=${new Date(anchor).toISOString()}`)
          .toBe(expiredBy(anchor, retain, zone, now));
        checked++;
      }
    }
    expect(checked).toBe(24000);
  });

  it('agrees with luxon at every minute around spring-forward and fall-back', () => {
    const zone = 'America/New_York';
    for (const nowIso of ['2026-03-09T02:30:00', '2026-11-02T01:30:00', '2026-03-09T03:10:00']) {
      const now = ms(nowIso, zone);
      for (const retain of ['P1D', 'P1M', 'P1DT1H']) {
        const ranges = expiredRanges(now, Duration.fromISO(retain), zone);
        const guess = DateTime.fromMillis(now, { zone }).minus(Duration.fromISO(retain)).toMillis();
        for (let a = guess - 6 * 3600_000; a <= guess + 6 * 3600_000; a += 60_000) {
          expect(inRanges(ranges, a)).toBe(expiredBy(a, retain, zone, now));
        }
      }
    }
  });
});
