import { DateTime } from 'luxon';

/** How an anchor written as text is to be read: epoch milliseconds, epoch seconds, or an ISO-8601 instant. */
export type AnchorUnit = 'ms' | 's' | 'iso';

/**
 * Anchors stores read from text (a Redis hash field, S3 user metadata), in the unit a rule
 * declares: one reading for every kind, so a unit means the same everywhere.
 *
 * The window of anchors believable, whatever the unit: 2000-01-01 up to
 * (not including) 2100-01-01, UTC. A unit mix-up lands far outside it: epoch seconds read
 * as milliseconds are in January 1970, milliseconds read as seconds are tens of thousands
 * of years ahead (and microseconds read as milliseconds likewise), and 0 or 1970 is the
 * usual "unknown" placeholder. Such an anchor is reported as implausible, never judged.
 */
export const PLAUSIBLE_FROM_MS = Date.UTC(2000, 0, 1);
export const PLAUSIBLE_UNTIL_MS = Date.UTC(2100, 0, 1);

/** Epoch digits exactly: no sign but a leading minus, no space, no fraction, no exponent. */
const EPOCH_DIGITS = /^-?\d+$/;

/**
 * An ISO-8601 instant in full: date, `T`, time to the second (with an optional fraction)
 * and an explicit offset. A date alone or a time without an offset would be read in some
 * zone the writer never chose.
 */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

const MS_PER_SECOND = 1_000;

/**
 * What a field holds, read in the rule's unit: an instant (epoch milliseconds), a
 * value that is not written the way the unit says (`malformed`), or one written that way
 * but outside the plausible window (`implausible`).
 *
 * `ms` is a whole number; a value with digits below the millisecond (ISO fractions) is
 * `ms + 0.5`, strictly between two whole milliseconds, so it compares with the whole
 * millisecond bounds of the expired ranges exactly: it is expired only when all of the
 * millisecond it lies in is.
 */
export type ParsedAnchor = { kind: 'instant'; ms: number } | { kind: 'malformed' } | { kind: 'implausible' };

export function parseAnchor(text: string, unit: AnchorUnit): ParsedAnchor {
  const ms = unit === 'iso' ? isoMillis(text) : epochMillis(text, unit);
  if (ms === null) return { kind: 'malformed' };
  if (!plausible(ms)) return { kind: 'implausible' };
  return { kind: 'instant', ms };
}

/** Inside the window of believable anchors. */
export function plausible(ms: number): boolean {
  return ms >= PLAUSIBLE_FROM_MS && ms < PLAUSIBLE_UNTIL_MS;
}

function epochMillis(text: string, unit: 'ms' | 's'): number | null {
  if (!EPOCH_DIGITS.test(text)) return null;
  // Beyond 2^53 Number() rounds, but such a value is far outside the window either way.
  const value = Number(text);
  return unit === 's' ? value * MS_PER_SECOND : value;
}

function isoMillis(text: string): number | null {
  const match = ISO_INSTANT.exec(text);
  if (!match) return null;
  // luxon checks the calendar (no month 13, no February 30, no hour 24).
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) return null;
  const subMillisecond = (match[2] ?? '').slice(3);
  return parsed.toMillis() + (/[1-9]/.test(subMillisecond) ? 0.5 : 0);
}
