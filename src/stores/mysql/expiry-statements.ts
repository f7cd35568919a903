import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Rule } from '../../policy/rule.js';
import type { SelectionParts } from '../selection.js';
import type { MysqlTable } from './catalog.js';
import type { MysqlTarget } from './mysql-target.js';
import { ident, join, qualified, sql, type Fragment } from './mysql-sql.js';
import { columnOf, expiredPredicate, filterPredicate, rulePredicate, validAnchor } from './statements.js';
import { readingText } from './wall-clock-intervals.js';

/**
 * Pure builders for the probes next-expiry scheduling runs on MariaDB/MySQL: the row with
 * the smallest anchor column value among some of a rule's rows (`ORDER BY anchor LIMIT 1`,
 * one probe of an index on the anchor), its value read back as a wall-clock reading with
 * microseconds. The store turns the reading into an instant as `expiredPredicate` judges
 * it: a TIMESTAMP in the session's UTC, a DATETIME or DATE in the rule's anchor zone.
 */
type MysqlRule = Rule<MysqlTarget>;

const DAY = 86_400_000;

/**
 * Rows the rule's filters select whose (valid) anchor is in none of `expired` and, when
 * given, in one of `within`. The first expired range is `(-inf, to]`: the column bounded
 * below by its end as a reading two days earlier (more than any offset) lets the probe
 * start at the expiry boundary instead of walking expired rows still present.
 */
export function notExpiredConditions(rule: MysqlRule, table: MysqlTable, expired: readonly AnchorRange[], within?: readonly AnchorRange[]): Fragment {
  const anchor = ident(columnOf(table, rule.target.anchor).name);
  const parts: Fragment[] = [validAnchor(anchor)];
  const floor = expired[0]?.from === null ? expired[0].to : null;
  if (floor !== null) parts.push(sql`${anchor} > CAST(${readingText(floor - 2 * DAY)} AS DATETIME(6))`);
  if (expired.length > 0) parts.push(sql`NOT ${expiredPredicate(rule, table, expired)}`);
  if (within) parts.push(expiredPredicate(rule, table, within));
  parts.push(...rule.target.where.map((f) => filterPredicate(f, table)));
  return join(parts, ' AND ');
}

/** Rows the selection would change now: the predicate a batch's statement applies. */
export function pendingConditions(rule: MysqlRule, table: MysqlTable, selection: SelectionParts, context: AnonymizeContext): Fragment {
  const anchor = ident(columnOf(table, rule.target.anchor).name);
  return sql`${validAnchor(anchor)} AND ${rulePredicate(rule, table, selection, context)}`;
}

/**
 * The smallest anchor value among the rows `conditions` select from `from` (a reading,
 * inclusive) up, as `YYYY-MM-DD HH:MM:SS.ffffff`; no row when none.
 */
export function firstReadingStatement(rule: MysqlRule, table: MysqlTable, conditions: Fragment, from?: number): Fragment {
  const anchor = ident(columnOf(table, rule.target.anchor).name);
  const after = from === undefined ? sql`` : sql` AND ${anchor} >= CAST(${readingText(from)} AS DATETIME(6))`;
  return sql`SELECT DATE_FORMAT(${anchor}, '%Y-%m-%d %H:%i:%s.%f') AS w FROM ${qualified(rule.target.table)}
              WHERE ${conditions}${after} ORDER BY ${anchor} LIMIT 1`;
}
