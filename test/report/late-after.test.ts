import { describe, expect, it } from 'vitest';
import { LATE_MARGIN_MS, lateAfter, lateMargin } from '../../src/report/late-after.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const at = (iso: string) => Date.parse(iso);

describe('lateAfter: when an item still present past its end means its rule is late', () => {
  it('allows an interval schedule one interval plus the margin', () => {
    const end = at('2026-03-01T10:00:00Z');
    expect(lateAfter({ kind: 'every', iso: 'PT1H', ms: HOUR }, 'UTC', end)).toBe(end + HOUR + LATE_MARGIN_MS);
    // A tenth of a daily interval is longer than the least margin.
    expect(lateAfter({ kind: 'every', iso: 'P1D', ms: DAY }, 'UTC', end)).toBe(end + DAY + DAY / 10);
  });

  it('allows a cron schedule until its first run at or after the end, plus the margin of its interval', () => {
    const daily = { kind: 'cron', pattern: '0 3 * * *' } as const;
    // Ends at 10:00: the next run is 03:00 the day after.
    expect(lateAfter(daily, 'UTC', at('2026-03-01T10:00:00Z'))).toBe(at('2026-03-02T03:00:00Z') + DAY / 10);
    // Ends exactly at a run: that run takes it.
    expect(lateAfter(daily, 'UTC', at('2026-03-02T03:00:00Z'))).toBe(at('2026-03-02T03:00:00Z') + DAY / 10);
    // In the rule's zone: 03:00 in Berlin is 02:00Z in winter.
    expect(lateAfter(daily, 'Europe/Berlin', at('2026-03-01T10:00:00Z'))).toBe(at('2026-03-02T02:00:00Z') + DAY / 10);
    // Weekdays only: an item ending on Friday evening waits for Monday's run, and that is not late.
    const weekdays = { kind: 'cron', pattern: '0 6 * * 1-5' } as const;
    expect(lateAfter(weekdays, 'UTC', at('2026-03-06T20:00:00Z'))).toBe(at('2026-03-09T06:00:00Z') + DAY / 10);
  });

  it('does not judge a manual rule', () => {
    expect(lateAfter({ kind: 'manual' }, 'UTC', at('2026-03-01T10:00:00Z'))).toBeNull();
  });

  it('never allows less than the least margin', () => {
    expect(lateMargin(60_000)).toBe(LATE_MARGIN_MS);
  });
});
