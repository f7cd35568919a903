import { DateTime, IANAZone } from 'luxon';

/** Nanoseconds per millisecond, as a bigint: anchors are compared exactly, never rounded. */
export const NS_PER_MS = 1_000_000n;

const DAY_MS = 86_400_000;

/**
 * The date or date-time a files rule reads from a path, written as ISO-8601 calendar
 * dates only: `2024-05-31`, `20240531`, either followed by a time (`T` or a space, then
 * `10:30`, `10:30:15`, `10:30:15.123456` or `103015`), and optionally `Z` or an offset.
 * A year, a year-month or a week date would put the anchor at the start of a period that
 * may have months to run, deleting early, so they are malformed.
 */
const EXTENDED = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?::\d{2})?)?)?$/;
const BASIC = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(?:(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}(?:\d{2})?)?)?$/;

/** Offsets beyond ±18:00 are not offsets (ISO-8601 and JavaScript agree on the bound). */
const MAX_OFFSET_MINUTES = 18 * 60;

/**
 * The instant `text` names, in nanoseconds since the epoch, or null when it is not one of
 * the accepted forms or not a real date/time (Feb 30, 24:00, a leap second). A time
 * without an offset is a wall-clock time in `zone`; one that occurs twice (the hour a
 * DST change repeats) is read as the later instant, and one that does not occur (skipped
 * forward) with the offset from before the jump, the later reading; a period never
 * starts early.
 */
export function parsePathDate(text: string, zone: string): bigint | null {
  const m = EXTENDED.exec(text) ?? BASIC.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, fraction, offset] = m;
  const fields = { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h ?? 0), minute: Number(mi ?? 0), second: Number(s ?? 0) };
  // Validity through UTC, where every wall-clock time exists exactly once.
  const utc = DateTime.fromObject(fields, { zone: 'utc' });
  // luxon rolls some values over (24:00 is the next day); only a time read back unchanged is real.
  if (!utc.isValid || (Object.keys(fields) as (keyof typeof fields)[]).some((unit) => utc[unit] !== fields[unit])) return null;
  const wall = utc.toMillis();
  const digits = (fraction ?? '').padEnd(9, '0');
  const subSecondNs = BigInt(digits);

  let ms: number | null;
  if (offset !== undefined) {
    const minutes = offsetMinutes(offset);
    ms = minutes === null ? null : wall - minutes * 60_000;
  } else ms = wallClockInstant(wall, zone);
  if (ms === null) return null;
  return BigInt(ms) * NS_PER_MS + subSecondNs;
}

/** `Z`, `+05`, `-03:30`, `+0530` in minutes east of UTC; null past ±18:00 or with minutes over 59. */
function offsetMinutes(offset: string): number | null {
  if (offset === 'Z') return 0;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  const hours = Number(digits.slice(0, 2));
  const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
  if (minutes > 59) return null;
  const total = hours * 60 + minutes;
  return total > MAX_OFFSET_MINUTES ? null : sign * total;
}

/**
 * The instant at which clocks in `zone` show `wall` (a wall-clock time written as if it
 * were UTC): the later of two when it occurs twice.
 */
function wallClockInstant(wall: number, zone: string): number | null {
  const tz = IANAZone.create(zone);
  if (!tz.isValid) return null;
  // A DST change moves the offset at most once within a day on either side.
  const offsets = new Set([tz.offset(wall - DAY_MS), tz.offset(wall), tz.offset(wall + DAY_MS)]);
  let latest: number | null = null;
  for (const minutes of offsets) {
    const candidate = wall - minutes * 60_000;
    if (tz.offset(candidate) === minutes && (latest === null || candidate > latest)) latest = candidate;
  }
  if (latest !== null) return latest;
  // In a gap (clocks jumped forward over it): read with the offset from before the jump,
  // as PostgreSQL and luxon do, which is the later of the two readings.
  return wall - Math.min(...offsets) * 60_000;
}

/** The first capture group of `pattern` in `relativePath`, or null when it does not match (or the group did not take part). */
export function capturedDate(pattern: RegExp, relativePath: string): string | null {
  const m = pattern.exec(relativePath);
  return m?.[1] ?? null;
}
