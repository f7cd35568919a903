import { Duration } from 'luxon';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { durationProblem } from '../../src/policy/duration.js';
import { expiredRanges } from '../../src/policy/expiry.js';

/** Issue 7: periods and instants bounded to what PostgreSQL reads (years 1-9999). */
describe('period bounds', () => {
  it.each(['P99999999999999999999D', 'P3000Y', 'P1001Y', 'PT9000000H'])('refuses %s as longer than 1000 years', (text) => {
    expect(durationProblem(text)).toBe(`${JSON.stringify(text)} is longer than 1000 years, the longest period accepted`);
  });

  it.each(['P1000Y', 'P6M', 'PT12H'])('accepts %s', (text) => {
    expect(durationProblem(text)).toBeUndefined();
  });

  it('never returns a range bound outside years 1-9999: it refuses with a UserError instead', () => {
    const now = new Date('0500-06-01T00:00:00Z').getTime();
    expect(() => expiredRanges(now, Duration.fromISO('P1000Y'), 'UTC')).toThrow(UserError);
    expect(() => expiredRanges(now, Duration.fromISO('PT9000H'), 'Europe/Berlin')).not.toThrow();
    const late = new Date('9999-12-31T00:00:00Z').getTime();
    expect(() => expiredRanges(late, Duration.fromISO('P1D'), 'UTC')).not.toThrow();
    expect(() => expiredRanges(new Date('0001-01-02T00:00:00Z').getTime(), Duration.fromISO('P2D'), 'UTC')).toThrow(
      'the expiry of P2D at 0001-01-02T00:00:00.000Z falls outside the years 1-9999 that PostgreSQL reads',
    );
  });
});
