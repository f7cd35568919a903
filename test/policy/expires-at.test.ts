import { DateTime, Duration } from 'luxon';
import { describe, expect, it } from 'vitest';
import { expiresAt } from '../../src/policy/expires-at.js';
import { expiredRanges, inRanges } from '../../src/policy/expiry.js';

const ms = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toMillis();
const luxonExpiry = (anchor: number, retain: string, zone: string) => DateTime.fromMillis(anchor, { zone }).plus(Duration.fromISO(retain)).toMillis();

describe('expiresAt', () => {
  it('is anchor + retain by luxon calendar arithmetic: month-end clamping, leap days, DST', () => {
    expect(expiresAt(ms('2026-08-31T12:00:00'), Duration.fromISO('P6M'), 'UTC')).toBe(ms('2027-02-28T12:00:00'));
    expect(expiresAt(ms('2024-02-29T00:00:00'), Duration.fromISO('P1Y'), 'UTC')).toBe(ms('2025-02-28T00:00:00'));
    // 02:30 on 2026-03-29 does not exist in Berlin (clocks jump 02:00 -> 03:00): luxon moves it to 03:30.
    const berlin = ms('2026-03-28T02:30:00', 'Europe/Berlin');
    expect(expiresAt(berlin, Duration.fromISO('P1D'), 'Europe/Berlin')).toBe(luxonExpiry(berlin, 'P1D', 'Europe/Berlin'));
    expect(expiresAt(berlin, Duration.fromISO('P1D'), 'Europe/Berlin') - berlin).toBe(24 * 3_600_000);
    // A calendar day across the change is 23 hours for an anchor after 03:00.
    const early = ms('2026-03-28T03:00:00', 'Europe/Berlin');
    expect(expiresAt(early, Duration.fromISO('P1D'), 'Europe/Berlin') - early).toBe(23 * 3_600_000);
    expect(expiresAt(early, Duration.fromISO('PT24H'), 'Europe/Berlin') - early).toBe(24 * 3_600_000);
  });

  it('matches luxon for many anchors, zones and periods', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Lord_Howe'];
    const periods = ['P6M', 'P1D', 'P30D', 'P1Y', 'PT12H', 'P1Y2M10DT2H'];
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed / 2 ** 31);
    for (let i = 0; i < 400; i++) {
      const anchor = Math.floor(ms('2020-01-01T00:00:00') + random() * 8 * 365 * 86_400_000);
      const zone = zones[i % zones.length]!;
      const retain = periods[i % periods.length]!;
      expect(expiresAt(anchor, Duration.fromISO(retain), zone), `${anchor} ${retain} ${zone}`).toBe(luxonExpiry(anchor, retain, zone));
    }
  });

  it('agrees with expiredRanges: expiresAt(a) <= now exactly when a lies in the expired ranges', () => {
    for (const [zone, retain, nowIso] of [
      ['UTC', 'P6M', '2027-02-28T12:00:00'],
      ['Europe/Berlin', 'P1D', '2026-03-29T03:30:00'],
      ['America/New_York', 'P1M', '2026-11-01T01:30:00'],
    ] as const) {
      const now = ms(nowIso, zone);
      const duration = Duration.fromISO(retain);
      const ranges = expiredRanges(now, duration, zone);
      const guess = DateTime.fromMillis(now, { zone }).minus(duration).toMillis();
      for (let a = guess - 4 * 86_400_000; a <= guess + 4 * 86_400_000; a += 599_999) {
        for (const anchor of [a, a + 0.5]) {
          expect(expiresAt(anchor, duration, zone) <= now, `${anchor} ${zone} ${retain}`).toBe(inRanges(ranges, anchor));
        }
      }
      // And at the bounds of every range, to the millisecond.
      for (const r of ranges) {
        for (const anchor of [r.to - 1, r.to - 0.5, r.to, r.to + 0.5, r.to + 1]) {
          expect(expiresAt(anchor, duration, zone) <= now, `${anchor} ${zone} ${retain}`).toBe(inRanges(ranges, anchor));
        }
      }
    }
  });

  it('gives an anchor with sub-millisecond digits the later millisecond, never the earlier', () => {
    const a = ms('2026-01-01T00:00:00');
    expect(expiresAt(a + 0.5, Duration.fromISO('P1D'), 'UTC')).toBe(expiresAt(a + 1, Duration.fromISO('P1D'), 'UTC'));
  });
});
