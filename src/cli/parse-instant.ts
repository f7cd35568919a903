import { DateTime } from 'luxon';
import { UserError } from '../errors.js';

/**
 * An instant given on the command line: ISO-8601 with an offset (`2026-11-20T09:30:00+08:00`,
 * `...Z`), or a date alone (`2026-11-20`, the start of that day in `zone`). A time without
 * an offset is refused: read in the wrong zone it would move a deadline by hours.
 */
export function parseInstant(text: string, option: string, zone = 'UTC'): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const hasOffset = /(Z|[+-]\d{2}(:?\d{2})?)$/i.test(text);
  if (!dateOnly && !hasOffset) {
    throw new UserError(`${option}: ${JSON.stringify(text)} has no offset; write it as 2026-11-20T09:30:00Z or with +08:00, or a date alone (2026-11-20)`);
  }
  const parsed = DateTime.fromISO(text, { zone, setZone: true });
  if (!parsed.isValid) throw new UserError(`${option}: ${JSON.stringify(text)} is not an ISO-8601 date or instant (${parsed.invalidExplanation ?? parsed.invalidReason})`);
  return parsed.toJSDate();
}
