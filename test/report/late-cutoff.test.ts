import { describe, expect, it } from 'vitest';
import type { Schedule } from '../../src/policy/rule.js';
import { LATE_MARGIN_MS, lateAfter } from '../../src/report/late-after.js';
import { lateCutoff } from '../../src/report/late-cutoff.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);

/** The cutoff is exact: an item ending then is late now, one ending a millisecond later is not. */
function expectExact(schedule: Schedule, zone: string, now: number, cutoff: number): void {
  expect(lateAfter(schedule, zone, cutoff)!).toBeLessThan(now);
  expect(lateAfter(schedule, zone, cutoff + 1)!).toBeGreaterThanOrEqual(now);
}

describe('lateCutoff: the latest end that makes a rule late now', () => {
  it('an interval schedule: now less the interval and the margin, less a millisecond (late is strictly past lateAfter)', () => {
    const now = at('2026-03-01T10:00:00.123Z');
    const hourly = { kind: 'every', iso: 'PT1H', ms: HOUR } as const;
    expect(lateCutoff(hourly, 'UTC', now)).toBe(now - HOUR - LATE_MARGIN_MS - 1);
    expectExact(hourly, 'UTC', now, lateCutoff(hourly, 'UTC', now)!);
    const daily = { kind: 'every', iso: 'P1D', ms: DAY } as const;
    expect(lateCutoff(daily, 'UTC', now)).toBe(now - DAY - DAY / 10 - 1);
  });

  it('a cron schedule: the last run whose margin has passed; items ending after it wait for a run not yet late', () => {
    const daily = { kind: 'cron', pattern: '0 3 * * *' } as const;
    // 06:00: today's 03:00 run plus its margin (2.4 h) has passed: every end up to 03:00 today is late.
    expect(lateCutoff(daily, 'UTC', at('2026-03-02T06:00:00Z'))).toBe(at('2026-03-02T03:00:00Z'));
    // 05:00: today's run is still within its margin: only ends up to yesterday's run are late.
    expect(lateCutoff(daily, 'UTC', at('2026-03-02T05:00:00Z'))).toBe(at('2026-03-01T03:00:00Z'));
    // In the rule's zone: 03:00 in Berlin is 02:00Z in winter.
    expect(lateCutoff(daily, 'Europe/Berlin', at('2026-03-02T05:00:00Z'))).toBe(at('2026-03-02T02:00:00Z'));
    // Weekdays only: on Sunday, Friday's run is the last whose margin passed.
    const weekdays = { kind: 'cron', pattern: '0 6 * * 1-5' } as const;
    const sunday = at('2026-03-08T12:00:00Z');
    expect(lateCutoff(weekdays, 'UTC', sunday)).toBe(at('2026-03-06T06:00:00Z'));
    for (const [schedule, zone, now] of [
      [daily, 'UTC', at('2026-03-02T06:00:00Z')],
      [daily, 'Europe/Berlin', at('2026-03-29T04:00:00Z')],
      [weekdays, 'UTC', sunday],
      [{ kind: 'cron', pattern: '*/5 * * * *' }, 'UTC', at('2026-03-02T06:07:13.5Z')],
    ] as const) {
      expectExact(schedule, zone, now, lateCutoff(schedule, zone, now)!);
    }
  });

  it('does not judge a manual rule', () => {
    expect(lateCutoff({ kind: 'manual' }, 'UTC', at('2026-03-01T10:00:00Z'))).toBeNull();
  });
});
