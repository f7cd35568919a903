import { describe, expect, it } from 'vitest';
import { daysLeft, deadline, extendedDeadline, workingDaysLeft } from '../../src/people/deadlines.js';
import type { DeadlineSpec, WorkingDaysDeadline } from '../../src/policy/request-policy.js';

/** Deadlines of people's requests: pure arithmetic in the config's zone, no services. */

const calendar = (duration: string): DeadlineSpec => ({ kind: 'calendar', duration });
const workingDays = (days: number, holidays: WorkingDaysDeadline['holidays'], workdays: string[] = []): WorkingDaysDeadline => ({ kind: 'workingDays', days, holidays, workdays });
const iso = (date: Date) => date.toISOString();

/** China's 2026 National Day as the State Council set it: 1-7 October off, 20 September and 10 October worked. */
const CN_2026_SCHEDULE = {
  holidays: { kind: 'dates', dates: ['2026-10-01', '2026-10-02', '2026-10-03', '2026-10-04', '2026-10-05', '2026-10-06', '2026-10-07'] },
  workdays: ['2026-09-20', '2026-10-10'],
} as const;

describe('calendar deadlines', () => {
  it('is due at the end of the due day in the zone: received 2026-03-10 15:00 in Berlin with P45D, due the end of 24 April (CEST)', () => {
    expect(iso(deadline(new Date('2026-03-10T15:00:00+01:00'), calendar('P45D'), 'Europe/Berlin'))).toBe('2026-04-24T21:59:59.999Z');
  });

  it('counts calendar days across the spring DST change, not 24-hour days: received at 23:30 is still due 24 April', () => {
    // 45 x 24 hours from 23:30 CET ends at 00:30 CEST on 25 April.
    expect(iso(deadline(new Date('2026-03-10T23:30:00+01:00'), calendar('P45D'), 'Europe/Berlin'))).toBe('2026-04-24T21:59:59.999Z');
  });

  it('counts calendar days across the autumn DST change in New York', () => {
    // 10 x 24 hours from 00:30 EDT on 31 October ends at 23:30 EST on 9 November.
    expect(iso(deadline(new Date('2026-10-31T00:30:00-04:00'), calendar('P10D'), 'America/New_York'))).toBe('2026-11-11T04:59:59.999Z');
  });

  it('takes the receipt day in the zone, not in UTC', () => {
    // 23:30 UTC on 10 March is already 11 March in Shanghai.
    expect(iso(deadline(new Date('2026-03-10T23:30:00Z'), calendar('P1D'), 'Asia/Shanghai'))).toBe('2026-03-12T15:59:59.999Z');
  });

  it('counts a month to the same date, or the last day of a shorter month (GDPR one month)', () => {
    expect(iso(deadline(new Date('2026-03-10T15:00:00Z'), calendar('P1M'), 'UTC'))).toBe('2026-04-10T23:59:59.999Z');
    expect(iso(deadline(new Date('2026-01-31T10:00:00Z'), calendar('P1M'), 'UTC'))).toBe('2026-02-28T23:59:59.999Z');
  });
});

describe('working-day deadlines', () => {
  it('does not count the receipt day and skips the weekend: received Thursday, 3 working days, due Tuesday', () => {
    expect(iso(deadline(new Date('2026-09-10T10:00:00+08:00'), workingDays(3, { kind: 'none' }), 'Asia/Shanghai'))).toBe('2026-09-15T15:59:59.999Z');
  });

  it('counts from Monday for a request received on a Saturday', () => {
    expect(iso(deadline(new Date('2026-09-12T10:00:00+08:00'), workingDays(1, { kind: 'none' }), 'Asia/Shanghai'))).toBe('2026-09-14T15:59:59.999Z');
  });

  it('takes the receipt weekday in the zone: Friday 00:30 in Shanghai (Thursday in UTC) is due Monday', () => {
    expect(iso(deadline(new Date('2026-09-10T16:30:00Z'), workingDays(1, { kind: 'none' }), 'Asia/Shanghai'))).toBe('2026-09-14T15:59:59.999Z');
  });

  it('15 working days across National Day with holidays: CN skips the statutory 1-3 October only (the date-holidays data)', () => {
    // From Tuesday 29 September: 30 Sep, then 5-9, 12-16 and 19-22 October.
    expect(iso(deadline(new Date('2026-09-29T10:00:00+08:00'), workingDays(15, { kind: 'region', region: 'CN' }), 'Asia/Shanghai'))).toBe('2026-10-22T15:59:59.999Z');
  });

  it("15 working days across National Day 2026 with the State Council's schedule: 1-7 October off, Saturday 10 October worked", () => {
    // From Tuesday 29 September: 30 Sep, 8, 9, 10 (make-up Saturday), 12-16, 19-23, 26 October.
    const spec = workingDays(15, CN_2026_SCHEDULE.holidays, [...CN_2026_SCHEDULE.workdays]);
    expect(iso(deadline(new Date('2026-09-29T10:00:00+08:00'), spec, 'Asia/Shanghai'))).toBe('2026-10-26T15:59:59.999Z');
  });

  it('counts a make-up Sunday as a working day', () => {
    const spec = workingDays(1, CN_2026_SCHEDULE.holidays, [...CN_2026_SCHEDULE.workdays]);
    expect(iso(deadline(new Date('2026-09-18T10:00:00+08:00'), spec, 'Asia/Shanghai'))).toBe('2026-09-20T15:59:59.999Z');
  });

  it('skips exactly the dates of an explicit list, and no others (a year not listed has no holidays)', () => {
    // From Tuesday 22 December: 23, 28, 29, 30 December and 1 January (not listed).
    const spec = workingDays(5, { kind: 'dates', dates: ['2026-12-24', '2026-12-25', '2026-12-31'] });
    expect(iso(deadline(new Date('2026-12-22T09:00:00Z'), spec, 'UTC'))).toBe('2027-01-01T23:59:59.999Z');
  });

  it('counts only public holidays: the day after Thanksgiving (an observance) is a working day in the US', () => {
    const spec = workingDays(2, { kind: 'region', region: 'US' });
    expect(iso(deadline(new Date('2026-11-25T09:00:00-08:00'), spec, 'America/Los_Angeles'))).toBe('2026-12-01T07:59:59.999Z');
  });

  it("skips a public holiday's substitute day (Independence Day observed Friday 3 July 2026)", () => {
    const spec = workingDays(1, { kind: 'region', region: 'US' });
    expect(iso(deadline(new Date('2026-07-02T09:00:00-07:00'), spec, 'America/Los_Angeles'))).toBe('2026-07-07T06:59:59.999Z'); // end of Monday 6 July
  });

  it("does not skip a day a holiday covers only in part: China's Women's Day is an afternoon off for some", () => {
    // 8 March 2027 is a Monday; date-holidays lists it as public from 12:00.
    const spec = workingDays(1, { kind: 'region', region: 'CN' });
    expect(iso(deadline(new Date('2027-03-05T10:00:00+08:00'), spec, 'Asia/Shanghai'))).toBe('2027-03-08T15:59:59.999Z');
  });

  it("does not skip a day off for one group only: China's Children's Day (1 June, children under 14) is a working day", () => {
    // Received Friday 29 May 2026; 1 June 2026 is a Monday, off for children, not for the office.
    const spec = workingDays(1, { kind: 'region', region: 'CN' });
    expect(iso(deadline(new Date('2026-05-29T10:00:00+08:00'), spec, 'Asia/Shanghai'))).toBe('2026-06-01T15:59:59.999Z');
  });

  it('does not skip the eve of a holiday that starts at sunset, and skips its whole days (Eid al-Fitr 2026 in the UAE)', () => {
    // date-holidays: from the evening of Thursday 19 March to the end of Sunday 22 March.
    const spec = workingDays(2, { kind: 'region', region: 'AE' });
    expect(iso(deadline(new Date('2026-03-18T09:00:00+04:00'), spec, 'Asia/Dubai'))).toBe('2026-03-23T19:59:59.999Z');
  });

  it("skips a day of a holiday that starts in the year before: Eswatini's Incwala, 28 December 2025 to 2 January 2026", () => {
    // From Wednesday 31 December: 1 January is New Year's Day, Friday 2 January still Incwala.
    const spec = workingDays(1, { kind: 'region', region: 'SZ' });
    expect(iso(deadline(new Date('2025-12-31T09:00:00+02:00'), spec, 'Africa/Mbabane'))).toBe('2026-01-05T21:59:59.999Z');
  });

  it('reads a state calendar: César Chávez Day is a public holiday in California only', () => {
    // Received Monday 30 March 2026; 31 March is the holiday.
    const received = new Date('2026-03-30T09:00:00-07:00');
    expect(iso(deadline(received, workingDays(1, { kind: 'region', region: 'US-CA' }), 'America/Los_Angeles'))).toBe('2026-04-02T06:59:59.999Z'); // end of 1 April
    expect(iso(deadline(received, workingDays(1, { kind: 'region', region: 'US' }), 'America/Los_Angeles'))).toBe('2026-04-01T06:59:59.999Z'); // end of 31 March
  });
});

describe('extensions', () => {
  it('adds a calendar extension to the current deadline, not to the receipt', () => {
    const due = deadline(new Date('2026-03-10T15:00:00+01:00'), calendar('P1M'), 'Europe/Berlin');
    expect(iso(due)).toBe('2026-04-10T21:59:59.999Z');
    expect(iso(extendedDeadline(due, calendar('P2M'), 'Europe/Berlin'))).toBe('2026-06-10T21:59:59.999Z');
  });

  it('adds working days from the day after the current deadline', () => {
    // Due the end of Friday 25 September: 28-30 September, 8, 9, 10 (make-up), 12-16, 19-22 October.
    const due = new Date('2026-09-25T15:59:59.999Z');
    const spec = workingDays(15, CN_2026_SCHEDULE.holidays, [...CN_2026_SCHEDULE.workdays]);
    expect(iso(extendedDeadline(due, spec, 'Asia/Shanghai'))).toBe('2026-10-22T15:59:59.999Z');
  });
});

describe('time left', () => {
  const due = new Date('2026-04-24T21:59:59.999Z'); // end of 24 April in Berlin

  it('counts calendar days to the due day across a DST change', () => {
    // 20 March 00:00 CET to 24 April 00:00 CEST is 35 days less an hour.
    expect(daysLeft(due, new Date('2026-03-20T12:00:00+01:00'), 'Europe/Berlin')).toBe(35);
  });

  it('is 0 on the due day and negative once it has passed, by the zone’s calendar', () => {
    expect(daysLeft(due, new Date('2026-04-24T23:30:00+02:00'), 'Europe/Berlin')).toBe(0);
    expect(daysLeft(due, new Date('2026-04-25T00:10:00+02:00'), 'Europe/Berlin')).toBe(-1);
    expect(daysLeft(due, new Date('2026-05-04T09:00:00+02:00'), 'Europe/Berlin')).toBe(-10);
  });

  it('counts working days left by the same calendar, negative when overdue', () => {
    const calendarOf = { holidays: CN_2026_SCHEDULE.holidays, workdays: [...CN_2026_SCHEDULE.workdays] };
    const dueCn = new Date('2026-10-26T15:59:59.999Z'); // end of Monday 26 October in Shanghai
    // After Thursday 8 October: 9, 10 (make-up), 12-16, 19-23, 26 October.
    expect(workingDaysLeft(dueCn, new Date('2026-10-08T09:00:00+08:00'), calendarOf, 'Asia/Shanghai')).toBe(13);
    expect(workingDaysLeft(dueCn, new Date('2026-10-26T18:00:00+08:00'), calendarOf, 'Asia/Shanghai')).toBe(0);
    expect(workingDaysLeft(dueCn, new Date('2026-10-28T09:00:00+08:00'), calendarOf, 'Asia/Shanghai')).toBe(-2);
  });
});
