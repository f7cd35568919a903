import { DateTime } from 'luxon';
import type { Rule } from '../../policy/rule.js';
import type { MysqlTable } from './catalog.js';
import type { MysqlDatabase } from './connect.js';
import { firstReadingStatement } from './expiry-statements.js';
import type { Fragment } from './mysql-sql.js';
import type { MysqlTarget } from './mysql-target.js';
import { columnOf } from './statements.js';
import { readingOffset, zoneOf } from './wall-clock-intervals.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/**
 * The smallest anchor instant (epoch ms, `ms + 0.5` with digits below the millisecond) among
 * the rows `conditions` select; null when none. One index probe in column order; readings
 * are ordered like their instants except in a spring-forward gap (02:30, which no clock
 * showed, stands for 03:30 and so comes after the real 03:10), so when the first reading
 * lies in a gap, the first reading after the gap is probed too.
 */
export async function smallestAnchor(database: MysqlDatabase, rule: Rule<MysqlTarget>, table: MysqlTable, conditions: Fragment): Promise<number | null> {
  const column = columnOf(table, rule.target.anchor);
  const zone = zoneOf(column.dataType === 'timestamp' ? 'UTC' : rule.target.anchorZone.name);
  const instantOf = (text: string) => {
    const { reading, sub } = parseReading(text);
    const ms = reading - readingOffset(zone, reading);
    return sub ? ms + 0.5 : ms;
  };
  const [first] = await database.rows<{ w: string }>(firstReadingStatement(rule, table, conditions));
  if (!first) return null;
  const found = instantOf(first.w);
  const end = gapEnd(zone, parseReading(first.w).reading);
  if (end === null) return found;
  const [after] = await database.rows<{ w: string }>(firstReadingStatement(rule, table, conditions, end));
  return after ? Math.min(found, instantOf(after.w)) : found;
}

/** `2026-03-29 02:30:00.000500` as the epoch ms of that reading in UTC, and whether it has digits below the ms. */
function parseReading(text: string): { reading: number; sub: boolean } {
  const [whole, fraction = ''] = text.split('.');
  const micros = fraction.padEnd(6, '0');
  const reading = DateTime.fromSQL(whole!, { zone: 'UTC' }).toMillis() + Number(micros.slice(0, 3));
  return { reading, sub: Number(micros.slice(3)) !== 0 };
}

/**
 * When `reading` lies in a spring-forward gap of `zone` (no offset makes it a real wall
 * time), the first reading after the gap; else null.
 */
function gapEnd(zone: ReturnType<typeof zoneOf>, reading: number): number | null {
  if (zone.isUniversal) return null;
  const before = zone.offset(reading - 2 * DAY) * MINUTE;
  const after = zone.offset(reading + 2 * DAY) * MINUTE;
  const fits = (o: number) => zone.offset(reading - o) * MINUTE === o;
  if (before === after || fits(before) || fits(after)) return null;
  // The change happened at an instant in (reading - after, reading - before]: find it.
  let lo = reading - Math.max(before, after);
  let hi = reading - Math.min(before, after);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (zone.offset(mid) * MINUTE === before) lo = mid;
    else hi = mid;
  }
  return hi + after;
}
