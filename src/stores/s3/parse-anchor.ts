import { DateTime } from 'luxon';
import type { S3AnchorUnit } from './s3-target.js';

/**
 * The window of anchors believable for an object, whatever the unit: 2000-01-01 up to (not
 * including) 2100-01-01, UTC. A unit mix-up lands far outside it (seconds read as
 * milliseconds are in January 1970), and 0 is the usual "unknown" placeholder: such an
 * anchor is reported as implausible, never judged. Applies to LastModified too, which a
 * misconfigured server clock can put in 1970.
 *
 * The same rules as the Redis kind's anchors (src/stores/redis/parse-anchor.ts), kept in
 * this folder so that a kind is one folder.
 */
export const PLAUSIBLE_FROM_MS = Date.UTC(2000, 0, 1);
export const PLAUSIBLE_UNTIL_MS = Date.UTC(2100, 0, 1);

const EPOCH_DIGITS = /^-?\d+$/;

/** An ISO-8601 instant in full: date, `T`, time to the second (optional fraction), explicit offset. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

const MS_PER_SECOND = 1_000;

/**
 * An instant in epoch milliseconds, or why there is none. `ms` with digits below the
 * millisecond is `ms + 0.5`, so it compares with whole-millisecond bounds exactly: expired
 * only when all of its millisecond is.
 */
export type ParsedAnchor = { kind: 'instant'; ms: number } | { kind: 'malformed' } | { kind: 'implausible' };

export function parseAnchor(text: string, unit: S3AnchorUnit): ParsedAnchor {
  const ms = unit === 'iso' ? isoMillis(text) : epochMillis(text, unit);
  if (ms === null) return { kind: 'malformed' };
  return plausible(ms) ? { kind: 'instant', ms } : { kind: 'implausible' };
}

export function plausible(ms: number): boolean {
  return ms >= PLAUSIBLE_FROM_MS && ms < PLAUSIBLE_UNTIL_MS;
}

function epochMillis(text: string, unit: 'ms' | 's'): number | null {
  if (!EPOCH_DIGITS.test(text)) return null;
  const value = Number(text);
  return unit === 's' ? value * MS_PER_SECOND : value;
}

function isoMillis(text: string): number | null {
  const match = ISO_INSTANT.exec(text);
  if (!match) return null;
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) return null;
  const subMillisecond = (match[2] ?? '').slice(3);
  return parsed.toMillis() + (/[1-9]/.test(subMillisecond) ? 0.5 : 0);
}
