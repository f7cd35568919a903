import { DateTime } from 'luxon';
import { z } from 'zod';
import { durationProblem } from './duration.js';
import { holidayRegionProblem } from './public-holidays.js';

/**
 * The `requests:` section's shape: how long a person's request may take, and how long its
 * record is kept. Resolved with defaults into a `RequestPolicy` by `resolveRequestPolicy`.
 *
 * ```yaml
 * requests:
 *   due: P45D                                   # calendar: ISO duration after receipt
 *   # or: due: { workingDays: 15, holidays: CN, workdays: [2026-09-20] }
 *   extension: P45D
 *   acknowledge: { workingDays: 10, holidays: US }
 *   keep: P24M
 * ```
 */

/** Longest working-days deadline accepted: about four years; more is a typo. */
export const MAX_WORKING_DAYS = 1000;

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const DAYS_OR_LONGER = /^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?$/;
const CALENDAR_FORM = 'an ISO-8601 duration (due: P45D)';
const WORKING_FORM = 'a count of working days ({ workingDays: 15, holidays: CN })';

const looksLikeDuration = (value: unknown): boolean => typeof value === 'string' && durationProblem(value) === undefined;

/** Why `text` is not a calendar date written `YYYY-MM-DD`, or undefined when it is. */
export function isoDateProblem(text: string): string | undefined {
  if (!ISO_DATE.test(text)) return `${JSON.stringify(text)} is not a date written YYYY-MM-DD, e.g. 2026-10-01`;
  if (!DateTime.fromISO(text, { zone: 'UTC' }).isValid) return `${JSON.stringify(text)} is not a day of the calendar`;
  return undefined;
}

const isoDate = z.string({ error: 'must be a date written YYYY-MM-DD, e.g. 2026-10-01' }).superRefine((text, ctx) => {
  const problem = isoDateProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A calendar deadline: whole days or longer, since a deadline ends with its last day. */
const calendarDeadline = z.string().superRefine((text, ctx) => {
  const problem = durationProblem(text);
  const message = DAYS_OR_LONGER.test(text)
    ? problem
    : problem === undefined
      ? `${JSON.stringify(text)} has hours, minutes or seconds; a deadline is counted in whole days (due at the end of its last day), e.g. P45D`
      : `${JSON.stringify(text)} is not an ISO-8601 duration of days, weeks, months or years such as P45D or P1M (whole numbers only); or write ${WORKING_FORM}`;
  if (message) ctx.addIssue({ code: 'custom', message });
});

const holidayList = z
  .array(
    z.unknown().superRefine((item, ctx) => {
      if (typeof item === 'string' && holidayRegionProblem(item) === undefined) {
        ctx.addIssue({ code: 'custom', message: `a holiday list holds dates only; a country's holidays are written alone (holidays: ${item}), or list every date` });
        return;
      }
      const problem = typeof item === 'string' ? isoDateProblem(item) : 'must be a date written YYYY-MM-DD, e.g. 2026-10-01';
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  )
  .transform((items) => [...new Set(items as string[])].sort());

const holidayRegion = z.string().superRefine((region, ctx) => {
  if (isoDateProblem(region) === undefined) {
    ctx.addIssue({ code: 'custom', message: `a single date is written as a list: holidays: [${region}]` });
    return;
  }
  const problem = holidayRegionProblem(region);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** `holidays:` is a country (state) code or a list of dates: parsed by what it is. */
const holidays = z.unknown().transform((value, ctx): string | string[] => {
  if (typeof value === 'string') return relay(holidayRegion.safeParse(value), ctx);
  if (Array.isArray(value)) return relay(holidayList.safeParse(value), ctx);
  ctx.addIssue({ code: 'custom', message: 'must be a country code such as CN (its public holidays) or a list of dates such as [2026-10-01, 2026-10-02]' });
  return z.NEVER;
});

const WORKING_KEYS = ['workingDays', 'holidays', 'workdays'] as const;

const workingDaysDeadline = z
  .looseObject({
    workingDays: z
      .number({
        error: (issue) =>
          issue.input === undefined
            ? `is required: the number of working days, or write ${CALENDAR_FORM} instead`
            : looksLikeDuration(issue.input)
              ? `is a number of working days such as 15; a calendar period is written alone: due: ${String(issue.input)}`
              : 'must be a whole number of working days, e.g. 15',
      })
      .int({ error: 'must be a whole number of working days, e.g. 15' })
      .min(1, { error: 'must be at least 1' })
      .max(MAX_WORKING_DAYS, { error: `must be at most ${MAX_WORKING_DAYS}` }),
    holidays: holidays.optional(),
    /** Weekend days (or listed holidays of a country) that are working days: China's make-up days. */
    workdays: z.array(isoDate, { error: 'must be a list of dates such as [2026-09-20, 2026-10-10]' }).optional(),
  })
  .superRefine((spec, ctx) => {
    for (const [key, value] of Object.entries(spec)) {
      if ((WORKING_KEYS as readonly string[]).includes(key)) continue;
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: looksLikeDuration(value)
          ? `a deadline is either ${CALENDAR_FORM} or ${WORKING_FORM}, not both`
          : `unknown key ${JSON.stringify(key)} (allowed: ${WORKING_KEYS.join(', ')})`,
      });
    }
    const listed = Array.isArray(spec.holidays) ? new Set(spec.holidays) : new Set<string>();
    spec.workdays?.forEach((date, i) => {
      if (listed.has(date)) ctx.addIssue({ code: 'custom', path: ['workdays', i], message: `${date} is also in holidays; a day is either a holiday or a working day` });
    });
  })
  .transform(({ workingDays, holidays, workdays }) => ({ workingDays, holidays, workdays: workdays === undefined ? undefined : [...new Set(workdays)].sort() }));

/**
 * What `deadline` accepts, in JSON Schema, for the schema editors check a config with
 * (scripts/config-json-schema.ts): a transform over `unknown` has no JSON Schema of its
 * own. No stricter than the parse (test/config/json-schema.test.ts).
 */
const DEADLINE_JSON_SCHEMA = {
  anyOf: [
    { type: 'string', description: 'calendar days: an ISO-8601 duration of days, weeks, months or years, e.g. P45D' },
    {
      type: 'object',
      description: 'working days, e.g. { workingDays: 15, holidays: CN }',
      properties: {
        workingDays: { type: 'integer', minimum: 1, maximum: MAX_WORKING_DAYS, description: 'the number of working days (Monday to Friday, minus holidays)' },
        holidays: {
          description: "a country (or state) code whose public holidays are not working days (CN, US-CA), or a list of dates YYYY-MM-DD",
          anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
        },
        workdays: { type: 'array', items: { type: 'string' }, description: "weekend days (or holidays) that are working days, YYYY-MM-DD: China's make-up days" },
      },
      required: ['workingDays'],
      additionalProperties: false,
    },
  ],
};

/** A deadline, `due: P45D` or `due: { workingDays: 15, ... }`: parsed by which it is. */
const deadline = z
  .unknown()
  .transform((value, ctx) => {
    if (typeof value === 'string') return relay(calendarDeadline.safeParse(value), ctx);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return relay(workingDaysDeadline.safeParse(value), ctx);
    ctx.addIssue({ code: 'custom', message: `must be ${CALENDAR_FORM} or ${WORKING_FORM}` });
    return z.NEVER;
  })
  .meta(DEADLINE_JSON_SCHEMA);

const keep = z.string({ error: 'must be an ISO-8601 duration such as P24M' }).superRefine((text, ctx) => {
  const problem = durationProblem(text);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const REQUEST_KEYS = ['due', 'extension', 'acknowledge', 'keep'] as const;

export const requestsSchema = z
  .looseObject(
    {
      due: deadline.describe('how long an erasure request may take, from its receipt: P45D (calendar days) or { workingDays: 15, holidays: CN }').optional(),
      extension: deadline.describe('how much longer a request may take once extended (`retention requests extend`, once, audited); the same forms as due').optional(),
      acknowledge: deadline.describe('how soon a request must be acknowledged (`retention requests acknowledge`); the same forms as due').optional(),
      keep: keep.describe('how long the record of a completed request is kept before it expires, an ISO-8601 duration such as P24M').optional(),
    },
    { error: 'must be a mapping of due, extension, acknowledge and keep' },
  )
  .describe('deadlines of erasure requests (README, "People"); unknown keys are refused')
  // The superRefine below refuses any other key; said so to JSON Schema, which cannot see it.
  .meta({ additionalProperties: false })
  .superRefine((section, ctx) => {
    for (const key of Object.keys(section)) {
      if (!(REQUEST_KEYS as readonly string[]).includes(key)) ctx.addIssue({ code: 'custom', path: [key], message: `unknown key ${JSON.stringify(key)} (allowed: ${REQUEST_KEYS.join(', ')})` });
    }
  });

export type RawRequests = z.output<typeof requestsSchema>;
export type RawDeadline = z.output<typeof deadline>;

/** The inner parse's result, its issues reported at this value's place (zod prefixes the path). */
function relay<T>(result: z.ZodSafeParseResult<T>, ctx: z.core.$RefinementCtx<unknown>): T {
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  return z.NEVER;
}
