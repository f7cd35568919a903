import type pg from 'pg';
import { IANAZone, Info, type Zone } from 'luxon';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { TableInfo } from './catalog.js';
import { anchorZone, firstAnchorStatement, isWallClock, minAnchorWithinStatement, type AnchorConditions } from './expiry-statements.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
/** Offsets are sampled this far either side of an instant: more than any offset change (Samoa skipped 24 hours). */
const SPAN_WINDOW = 2 * DAY;
/** Offset changes are at least weeks apart and no offset lasted less than this. */
const SPAN_STEP = 15 * MINUTE;

/**
 * The smallest anchor instant (epoch ms, `ms + 0.5` when it has digits below the
 * millisecond, as `expiresAt` reads it) among the rows `conditions` select; null when none.
 *
 * One index probe in anchor-column order. For a wall-clock column whose zone changes offset
 * near the row found, a second probe over the few wall times after it that can stand for
 * earlier instants (see `minAnchorWithinStatement`).
 */
export async function smallestAnchor(pool: pg.Pool, rule: Rule, table: TableInfo, conditions: AnchorConditions): Promise<number | null> {
  const { rows } = await pool.query<{ ms: string; sub: boolean; w: string }>(firstAnchorStatement(rule, table, conditions));
  const first = rows[0];
  if (!first) return null;
  const found = anchorMs(first);
  if (!isWallClock(rule, table)) return found;
  const span = offsetSpan(anchorZone(rule), found);
  if (span === 0) return found;
  const within = await pool.query<{ ms: string; sub: boolean }>(minAnchorWithinStatement(rule, table, conditions, first.w, span));
  return within.rows[0] ? Math.min(found, anchorMs(within.rows[0])) : found;
}

function anchorMs(row: { ms: string; sub: boolean }): number {
  const ms = Number(row.ms);
  return row.sub ? ms + 0.5 : ms;
}

/**
 * How far the zone's UTC offset moves within two days either side of `instant` (ms): the
 * largest difference between the offsets it has there; 0 where it does not change.
 */
export function offsetSpan(zoneName: string, instant: number): number {
  const fixed = Info.normalizeZone(zoneName);
  if (fixed.isValid && fixed.isUniversal) return 0;
  const zone: Zone = IANAZone.create(zoneName);
  if (!zone.isValid) throw new Error(`unknown time zone ${JSON.stringify(zoneName)}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (let t = Math.floor(instant) - SPAN_WINDOW; t <= instant + SPAN_WINDOW; t += SPAN_STEP) {
    const offset = zone.offset(t);
    lo = Math.min(lo, offset);
    hi = Math.max(hi, offset);
  }
  return (hi - lo) * MINUTE;
}
