import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { coalescedInstant, expiringBefore, expiryFollowsAnchor, expiryOf, lagMs } from '../../src/planner/next-expiry.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { inRanges } from '../../src/policy/expiry.js';
import type { Rule } from '../../src/policy/rule.js';

/**
 * Next-expiry scheduling queues a sweep at `expiryOf(rule, anchor)`: a sweep planned at
 * that instant must select the item, and one planned a millisecond earlier must not, at
 * the calendar's edges as everywhere else.
 */

const ms = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toMillis();
const rule = (retain: string, timezone = 'UTC') => ({ id: 'r', retain, timezone }) as Rule;

/** A sweep planned at `at` selects `anchor`, and one planned at `at - 1` does not. */
function expectSweptExactlyAt(r: Rule, anchor: number, at: number): void {
  expect(inRanges(planSweep(r, new Date(at)).ranges, anchor), `selected at ${new Date(at).toISOString()}`).toBe(true);
  expect(inRanges(planSweep(r, new Date(at - 1)).ranges, anchor), `not selected 1 ms before`).toBe(false);
}

describe('expiryOf', () => {
  it('P1M from Jan 31 ends on Feb 28 (29 in a leap year), at the anchor time of day', () => {
    const r = rule('P1M');
    for (const [anchor, end] of [
      ['2026-01-31T12:00:00', '2026-02-28T12:00:00'],
      ['2028-01-31T12:00:00', '2028-02-29T12:00:00'],
      ['2026-03-31T23:59:59.999', '2026-04-30T23:59:59.999'],
    ] as const) {
      expect(expiryOf(r, ms(anchor))).toBe(ms(end));
      expectSweptExactlyAt(r, ms(anchor), expiryOf(r, ms(anchor)));
    }
  });

  it('P18M from Aug 31 ends on the last day of February a year and a half later', () => {
    const r = rule('P18M');
    const anchor = ms('2024-08-31T08:30:00');
    expect(expiryOf(r, anchor)).toBe(ms('2026-02-28T08:30:00'));
    expectSweptExactlyAt(r, anchor, expiryOf(r, anchor));
  });

  it('calendar days across a DST change keep the wall time; hours do not', () => {
    const zone = 'Europe/Berlin';
    // The night of 2026-03-29 is 23 hours long in Berlin.
    const anchor = ms('2026-03-28T12:00:00', zone);
    expect(expiryOf(rule('P1D', zone), anchor)).toBe(ms('2026-03-29T12:00:00', zone));
    expect(expiryOf(rule('P1D', zone), anchor) - anchor).toBe(23 * 3_600_000);
    expect(expiryOf(rule('PT24H', zone), anchor) - anchor).toBe(24 * 3_600_000);
    for (const r of [rule('P1D', zone), rule('PT24H', zone), rule('P1M', 'America/New_York')]) {
      expectSweptExactlyAt(r, anchor, expiryOf(r, anchor));
    }
    // Fall back in New York: 01:30 happens twice on 2026-11-01; P1D from the day before.
    const ny = 'America/New_York';
    const before = ms('2026-10-31T01:30:00', ny);
    expectSweptExactlyAt(rule('P1D', ny), before, expiryOf(rule('P1D', ny), before));
  });

  it('an anchor with digits below the millisecond is swept with the later millisecond, never before', () => {
    const r = rule('P1M');
    const anchor = ms('2026-01-15T10:00:00') + 0.5;
    const at = expiryOf(r, anchor);
    expect(at).toBe(ms('2026-02-15T10:00:00.001'));
    expectSweptExactlyAt(r, anchor, at);
  });

  it('agrees with the planner for many anchors, periods and zones', () => {
    const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'America/Sao_Paulo'];
    const periods = ['P1M', 'P18M', 'P1D', 'PT12H', 'P1Y', 'P1Y2M10DT2H'];
    let seed = 11;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed / 2 ** 31);
    for (let i = 0; i < 40; i++) {
      const r = rule(periods[i % periods.length]!, zones[i % zones.length]!);
      const anchor = Math.floor(ms('2020-01-01T00:00:00') + random() * 8 * 365 * 86_400_000);
      expectSweptExactlyAt(r, anchor, expiryOf(r, anchor));
    }
  });
});

describe('expiringBefore', () => {
  it('finds the month-end anchor that overtakes a smaller one', () => {
    const r = rule('P1M');
    const smaller = ms('2026-01-28T13:00:00');
    const larger = ms('2026-01-31T12:00:00');
    // The larger anchor expires first: Feb 28 12:00 against Feb 28 13:00.
    expect(expiryOf(r, larger)).toBeLessThan(expiryOf(r, smaller));
    const sooner = expiringBefore(r, expiryOf(r, smaller));
    expect(inRanges(sooner, larger)).toBe(true);
    expect(inRanges(sooner, smaller)).toBe(false);
  });

  it('says whether expiry is ordered like the anchor', () => {
    expect(expiryFollowsAnchor(rule('PT36H', 'Europe/Berlin'))).toBe(true);
    expect(expiryFollowsAnchor(rule('P30D', 'UTC'))).toBe(true);
    expect(expiryFollowsAnchor(rule('P1D', 'Europe/Berlin'))).toBe(false);
    expect(expiryFollowsAnchor(rule('P1M', 'UTC'))).toBe(false);
  });
});

describe('expiryFollowsAnchor', () => {
  it('when it says so, a larger anchor never expires sooner', () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31), seed / 2 ** 31);
    for (const r of [rule('PT36H', 'Europe/Berlin'), rule('P30D'), rule('P1W'), rule('PT1H', 'America/New_York')]) {
      expect(expiryFollowsAnchor(r)).toBe(true);
      for (let i = 0; i < 300; i++) {
        const a = Math.floor(ms('2020-01-01T00:00:00') + random() * 8 * 365 * 86_400_000);
        const b = a + Math.floor(random() * 3 * 86_400_000);
        expect(expiryOf(r, a) <= expiryOf(r, b), `${r.retain} ${r.timezone} ${a} ${b}`).toBe(true);
      }
    }
  });
});

describe('coalescedInstant and lagMs', () => {
  it('never schedules sooner than a second after the previous sweep', () => {
    expect(coalescedInstant(1_000_100, 1_000_000)).toBe(1_001_000);
    expect(coalescedInstant(1_005_000, 1_000_000)).toBe(1_005_000);
  });

  it('is 0 without an expired item, else how long ago it ended', () => {
    expect(lagMs(10_000, null)).toBe(0);
    expect(lagMs(10_000, 7_500)).toBe(2_500);
  });
});
