import { DateTime, Duration } from 'luxon';
import { describe, expect, it } from 'vitest';
import { inRanges, type AnchorRange } from '../../src/policy/expiry.js';
import { expiringBetween, subtractRanges } from '../../src/planner/expiring-between.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { forecastWindows } from '../../src/report/forecast-weeks.js';
import { testRule } from '../helpers/test-rule.js';

/** The instant luxon says an item anchored at `anchor` expires: what a sweep at or after it removes. */
const expiry = (anchor: number, retain: string, zone: string) => DateTime.fromMillis(anchor, { zone }).plus(Duration.fromISO(retain)).toMillis();

const rule = (retain: string, zone: string) => testRule({ id: 'r', store: 's', kind: 'postgres', target: {} }, { retain, timezone: zone });

/** A deterministic pseudo-random sequence (the test must fail the same way every run). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
}

describe('subtractRanges', () => {
  it('cuts ranges out of ranges, keeping unbounded starts', () => {
    const a: AnchorRange[] = [{ from: null, to: 100 }, { from: 200, to: 300 }];
    const b: AnchorRange[] = [{ from: null, to: 10 }, { from: 50, to: 60 }, { from: 250, to: 400 }];
    expect(subtractRanges(a, b)).toEqual([
      { from: 11, to: 49 },
      { from: 61, to: 100 },
      { from: 200, to: 249 },
    ]);
    expect(subtractRanges(a, [])).toEqual(a);
    expect(subtractRanges([{ from: null, to: 5 }], [{ from: 3, to: 4 }])).toEqual([{ from: null, to: 2 }, { from: 5, to: 5 }]);
    expect(subtractRanges([{ from: 1, to: 5 }], [{ from: null, to: 9 }])).toEqual([]);
  });
});

describe('expiringBetween', () => {
  // Month ends fold several anchors onto one day (Aug 29-31 + P6M = Feb 28) and DST makes
  // calendar days 23 or 25 hours: every anchor must land in exactly the window luxon puts
  // its expiry in, and in no other.
  for (const [retain, zone, nowIso] of [
    ['P6M', 'UTC', '2027-02-10T09:30:00.250Z'],
    ['P1M', 'Europe/Berlin', '2026-02-20T23:59:59.900Z'],
    ['P1D', 'Europe/Berlin', '2026-03-20T12:00:00Z'],
    ['P1Y', 'America/Santiago', '2026-03-30T04:00:00Z'],
    ['PT12H', 'Europe/Berlin', '2026-10-20T00:00:00Z'],
  ] as const) {
    it(`puts every anchor in the week its ${retain} period ends in (${zone})`, () => {
      const r = rule(retain, zone);
      const { pendingAt, weeks } = forecastWindows(new Date(nowIso), 8, zone);
      const pending = planSweep(r, pendingAt).ranges;
      const perWeek = weeks.map((w) => expiringBetween(r, w.start.getTime(), w.end.getTime()));
      const lastEnd = weeks[weeks.length - 1]!.end.getTime();
      expect(weeks[0]!.start.getTime()).toBe(pendingAt.getTime() + 1);
      const next = random(42);
      // Anchors from two periods before the first week to one after the last.
      const lo = DateTime.fromJSDate(pendingAt, { zone }).minus(Duration.fromISO(retain)).minus({ weeks: 2 }).toMillis();
      const hi = DateTime.fromMillis(lastEnd, { zone }).minus(Duration.fromISO(retain)).plus({ weeks: 2 }).toMillis();
      const anchors: number[] = [];
      for (let i = 0; i < 4_000; i++) anchors.push(lo + Math.floor(next() * (hi - lo)));
      // And every whole second around each window's edges, where an off-by-one would show.
      for (const w of weeks) {
        for (const edge of [w.start.getTime(), w.end.getTime()]) {
          const anchorAt = DateTime.fromMillis(edge, { zone }).minus(Duration.fromISO(retain)).toMillis();
          for (let d = -3_000; d <= 3_000; d += 500) anchors.push(anchorAt + d);
        }
      }
      // And every range's bounds and their neighbours, where an anchor could be counted twice or not at all.
      for (const range of [...pending, ...perWeek.flat()]) {
        anchors.push(range.to - 1, range.to, range.to + 1);
        if (range.from !== null) anchors.push(range.from - 1, range.from, range.from + 1);
      }
      for (const anchor of anchors) {
        const at = expiry(anchor, retain, zone);
        // 0: pending; k: week k; none past the last week.
        const week = weeks.findIndex((w) => at >= w.start.getTime() && at < w.end.getTime());
        const expected = at <= pendingAt.getTime() ? [0] : week === -1 ? [] : [week + 1];
        const found = [inRanges(pending, anchor), ...perWeek.map((ranges) => inRanges(ranges, anchor))];
        const places = found.flatMap((hit, i) => (hit ? [i] : []));
        expect(places, `anchor ${new Date(anchor).toISOString()} expires ${new Date(at).toISOString()}`).toEqual(expected);
      }
    });
  }

  it('bounds every range on whole seconds, so a store judging anchors by the second counts each item in one week', () => {
    for (const [retain, zone] of [['P6M', 'UTC'], ['P1M', 'Europe/Berlin'], ['P1D', 'America/New_York'], ['PT36H', 'UTC']] as const) {
      const { weeks } = forecastWindows(new Date('2026-03-01T10:11:12.345Z'), 12, zone);
      for (const w of weeks) {
        for (const range of expiringBetween(rule(retain, zone), w.start.getTime(), w.end.getTime())) {
          if (range.from !== null) expect(((range.from % 1000) + 1000) % 1000).toBe(0);
          expect(((range.to % 1000) + 1000) % 1000).toBe(999);
        }
      }
    }
  });

  it('is empty for an empty or reversed window', () => {
    expect(expiringBetween(rule('P1D', 'UTC'), 5_000, 5_000)).toEqual([]);
    expect(expiringBetween(rule('P1D', 'UTC'), 6_000, 5_000)).toEqual([]);
  });
});

describe('forecastWindows', () => {
  it('starts at the next whole second and keeps the wall-clock time across a DST change', () => {
    const { pendingAt, weeks } = forecastWindows(new Date('2026-03-20T11:00:00.250Z'), 3, 'Europe/Berlin');
    expect(pendingAt.toISOString()).toBe('2026-03-20T11:00:00.999Z');
    expect(weeks.map((w) => [w.week, w.start.toISOString(), w.end.toISOString()])).toEqual([
      [1, '2026-03-20T11:00:01.000Z', '2026-03-27T11:00:01.000Z'],
      // Clocks go forward on 29 March: that week has 167 hours, and 12:00:01 local is 10:00:01Z after it.
      [2, '2026-03-27T11:00:01.000Z', '2026-04-03T10:00:01.000Z'],
      [3, '2026-04-03T10:00:01.000Z', '2026-04-10T10:00:01.000Z'],
    ]);
  });

  it('treats a now on a whole second as past: what expires at that instant is pending', () => {
    const { pendingAt, weeks } = forecastWindows(new Date('2026-01-01T00:00:00.000Z'), 1, 'UTC');
    expect(pendingAt.toISOString()).toBe('2026-01-01T00:00:00.999Z');
    expect(weeks[0]!.start.toISOString()).toBe('2026-01-01T00:00:01.000Z');
  });
});
