import type { RawDeadline, RawRequests } from './requests-schema.js';

/**
 * How long a person's request (erasure, access) may take, from the config's `requests:`
 * section. Every deadline ends at the end of its last day in the config's `timezone`
 * (src/people/deadlines.ts).
 */
export interface RequestPolicy {
  /**
   * When a request is due, counted from its receipt. Default `P1M`: GDPR Art. 12(3) says
   * "within one month of receipt", and a month counts to the same date of the next month
   * (the last day of a shorter month: 31 January is due 28 February), which 30 days is not.
   */
  due: DeadlineSpec;
  /** How much later an extended request is due, counted from its current deadline; granted once. Default none. */
  extension: DeadlineSpec | null;
  /** When receipt must be acknowledged (CCPA: 10 business days), counted from receipt. Default none. */
  acknowledge: DeadlineSpec | null;
  /**
   * How long a closed request's record is kept, an ISO-8601 duration. Default `P24M`: the
   * CCPA regulations keep records of consumer requests for at least 24 months.
   */
  keep: string;
}

/** A deadline: a calendar period (`P45D`), or a number of working days. */
export type DeadlineSpec = CalendarDeadline | WorkingDaysDeadline;

export interface CalendarDeadline {
  kind: 'calendar';
  /** ISO-8601 duration of days, weeks, months or years (no time part): `P45D`, `P1M`. */
  duration: string;
}

export interface WorkingDaysDeadline {
  kind: 'workingDays';
  /** Working days after the starting day (which never counts), at least 1. */
  days: number;
  /** Days that are not working days besides Saturdays and Sundays. */
  holidays: HolidaySource;
  /**
   * Dates (`YYYY-MM-DD`, sorted) that are working days whatever else says: China's
   * make-up working days (a Saturday or Sunday worked in exchange for a bridge day), which
   * no holiday library models. Empty when none.
   */
  workdays: readonly string[];
}

export type HolidaySource =
  /** Weekends only. */
  | { kind: 'none' }
  /** A country's (`CN`) or state's (`US-CA`) public holidays, from date-holidays (src/policy/public-holidays.ts). */
  | { kind: 'region'; region: string }
  /** Exactly these dates (`YYYY-MM-DD`, sorted); a year not listed has no holidays. */
  | { kind: 'dates'; dates: readonly string[] };

export const DEFAULT_DUE: DeadlineSpec = { kind: 'calendar', duration: 'P1M' };
export const DEFAULT_KEEP = 'P24M';
export const DEFAULT_REQUEST_POLICY: RequestPolicy = { due: DEFAULT_DUE, extension: null, acknowledge: null, keep: DEFAULT_KEEP };

/** The `requests:` section as validated by `requestsSchema`, with the defaults filled in. */
export function resolveRequestPolicy(raw: RawRequests | undefined): RequestPolicy {
  return {
    due: raw?.due === undefined ? DEFAULT_DUE : deadlineSpec(raw.due),
    extension: raw?.extension === undefined ? null : deadlineSpec(raw.extension),
    acknowledge: raw?.acknowledge === undefined ? null : deadlineSpec(raw.acknowledge),
    keep: raw?.keep ?? DEFAULT_KEEP,
  };
}

function deadlineSpec(raw: RawDeadline): DeadlineSpec {
  if (typeof raw === 'string') return { kind: 'calendar', duration: raw };
  const holidays: HolidaySource =
    raw.holidays === undefined ? { kind: 'none' } : typeof raw.holidays === 'string' ? { kind: 'region', region: raw.holidays } : { kind: 'dates', dates: raw.holidays };
  return { kind: 'workingDays', days: raw.workingDays, holidays, workdays: raw.workdays ?? [] };
}
