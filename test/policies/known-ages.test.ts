import { DateTime, Duration } from 'luxon';
import { describe, expect, it } from 'vitest';
import { knownAges } from './known-ages.js';

/**
 * The policy tests' anchors keep their verdict whatever day the tests run on: at a month
 * end, `now - P6M + 1 hour` plus six months falls days before `now` (Aug 31 - 6 months is
 * Feb 28, + 6 months is Aug 28), so a naive "due in an hour" row would be deleted.
 */
describe('knownAges', () => {
  const monthEnd = DateTime.fromISO('2026-08-31T12:00:00Z', { zone: 'utc' });
  const ends = (anchor: DateTime, retain: string) => anchor.plus(Duration.fromISO(retain));

  it('puts a not-yet anchor after the month-end clamp, where the naive one is already expired', () => {
    const naive = monthEnd.minus({ months: 6 }).plus({ hours: 1 });
    expect(ends(naive, 'P6M') < monthEnd).toBe(true);
    const ages = knownAges(monthEnd);
    expect(ends(ages.notYet('P6M'), 'P6M') >= monthEnd.plus({ minutes: 30 })).toBe(true);
    expect(ends(ages.notYet('P3Y'), 'P3Y') >= monthEnd.plus({ minutes: 30 })).toBe(true);
  });

  it('has the month-end distances known-ages.ts documents: justExpired three days and an hour past, notYet twelve hours ahead', () => {
    const ages = knownAges(monthEnd);
    expect(ages.justExpired('P6M').toISO()).toBe('2026-02-28T11:00:00.000Z');
    expect(ends(ages.justExpired('P6M'), 'P6M').toISO()).toBe('2026-08-28T11:00:00.000Z');
    expect(ages.notYet('P6M').toISO()).toBe('2026-03-01T00:00:00.000Z');
    expect(ends(ages.notYet('P6M'), 'P6M').toISO()).toBe('2026-09-01T00:00:00.000Z');
    // Day periods add exact days: one hour either side.
    expect(ends(ages.justExpired('P180D'), 'P180D').toISO()).toBe('2026-08-31T11:00:00.000Z');
    expect(ends(ages.notYet('P180D'), 'P180D').toISO()).toBe('2026-08-31T13:00:00.000Z');
  });

  it('puts expired anchors at least half an hour past their end, at a month end and on a leap day', () => {
    for (const now of [monthEnd, DateTime.fromISO('2028-02-29T00:30:00Z', { zone: 'utc' })]) {
      const ages = knownAges(now);
      for (const retain of ['P6M', 'P3Y', 'P30D', 'P1Y', 'PT0S']) {
        expect(ends(ages.justExpired(retain), retain) <= now.minus({ minutes: 30 }), `${retain} at ${now.toISO()}`).toBe(true);
        expect(ends(ages.longExpired(retain), retain) <= now.minus({ days: 29 }), `${retain} at ${now.toISO()}`).toBe(true);
      }
    }
  });
});
