import { DateTime, Duration } from 'luxon';
import { publicHolidayDates } from '../policy/public-holidays.js';
import type { DeadlineSpec, HolidaySource, WorkingDaysDeadline } from '../policy/request-policy.js';

/**
 * When a person's request is due, by the config's `requests:` deadlines, in the config's
 * `timezone`. A deadline is always the end of a day (23:59:59.999 in the zone): the day
 * a period starts from is not counted, and the period ends with the end of its last day
 * (as EU Regulation 1182/71 counts periods of days and months). So a request received
 * 2026-03-10T15:00 with `P45D` is due at the end of 2026-04-24; with `P1M`, at the end
 * of 2026-04-10; received 31 January with `P1M`, at the end of 28 (or 29) February.
 *
 * Working days count from the first working day after the starting day, skipping
 * Saturdays, Sundays and holidays, unless a date is listed in `workdays`; the deadline is
 * the end of the N-th working day.
 */

/** When a request received at `receivedAt` is due (`spec`: `requests.due` or `requests.acknowledge`). */
export function deadline(receivedAt: Date, spec: DeadlineSpec, zone: string): Date {
  const start = inZone(receivedAt, zone);
  // Calendar arithmetic in the zone: days are calendar days (23 or 25 hours across a DST
  // change), months end on the same date or the month's last day.
  const lastDay = spec.kind === 'calendar' ? start.plus(Duration.fromISO(spec.duration)) : nthWorkingDayAfter(start, spec);
  return lastDay.endOf('day').toJSDate();
}

/** The deadline of an extended request: `extension` added to its current deadline. */
export function extendedDeadline(currentDue: Date, extension: DeadlineSpec, zone: string): Date {
  return deadline(currentDue, extension, zone);
}

/**
 * Calendar days from today to the due day, in the zone: 0 when due today, 1 tomorrow,
 * negative when the due day has passed (-1: was due yesterday).
 */
export function daysLeft(due: Date, now: Date, zone: string): number {
  const today = inZone(now, zone).startOf('day');
  const dueDay = inZone(due, zone).startOf('day');
  // Whole calendar days: a span across a DST change is a day of 23 or 25 hours.
  return Math.round(dueDay.diff(today, 'days').days);
}

/**
 * Working days left (by `calendar`'s weekends, holidays and workdays) after today up to
 * and including the due day: 0 when due today or only non-working days remain; negative
 * when overdue: minus the working days since the due day, today included.
 */
export function workingDaysLeft(due: Date, now: Date, calendar: Pick<WorkingDaysDeadline, 'holidays' | 'workdays'>, zone: string): number {
  const today = inZone(now, zone).startOf('day');
  const dueDay = inZone(due, zone).startOf('day');
  const [from, to, sign] = dueDay >= today ? [today, dueDay, 1] : [dueDay, today, -1];
  const isWorking = workingDayTest(calendar);
  let count = 0;
  for (let day = from.plus({ days: 1 }); day <= to; day = day.plus({ days: 1 })) if (isWorking(day)) count++;
  return sign * count;
}

function nthWorkingDayAfter(start: DateTime, spec: WorkingDaysDeadline): DateTime {
  const isWorking = workingDayTest(spec);
  let day = start.startOf('day');
  // Ends: every year has weekdays that no finite list or country calendar covers.
  for (let counted = 0; counted < spec.days; ) {
    day = day.plus({ days: 1 });
    if (isWorking(day)) counted++;
  }
  return day;
}

const SATURDAY = 6;
const SUNDAY = 7;

function workingDayTest(calendar: Pick<WorkingDaysDeadline, 'holidays' | 'workdays'>): (day: DateTime) => boolean {
  const workdays = new Set(calendar.workdays);
  const isHoliday = holidayTest(calendar.holidays);
  return (day) => {
    const date = day.toISODate()!;
    if (workdays.has(date)) return true;
    if (day.weekday === SATURDAY || day.weekday === SUNDAY) return false;
    return !isHoliday(date, day.year);
  };
}

function holidayTest(source: HolidaySource): (date: string, year: number) => boolean {
  switch (source.kind) {
    case 'none':
      return () => false;
    case 'dates': {
      const dates = new Set(source.dates);
      return (date) => dates.has(date);
    }
    case 'region':
      return (date, year) => publicHolidayDates(source.region, year).has(date);
  }
}

function inZone(instant: Date, zone: string): DateTime {
  const local = DateTime.fromJSDate(instant, { zone });
  if (!local.isValid) throw new Error(`cannot place ${instant.toISOString()} in time zone ${JSON.stringify(zone)}: ${local.invalidExplanation ?? local.invalidReason}`);
  return local;
}
