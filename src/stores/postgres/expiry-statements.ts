import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { SelectionParts } from '../selection.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { TableInfo } from './catalog.js';
import { expiredPredicate, filterPredicate, rulePredicate } from './statements.js';
import { ident, Params, qualified, type Statement } from './sql.js';

/**
 * Pure builders for the probes next-expiry scheduling runs: the smallest anchor among some
 * of a rule's rows, read through an index on the anchor column (`ORDER BY anchor LIMIT 1`),
 * so each is one index probe whatever the table's size. The anchor is read as
 * `expiredPredicate` reads it: a `timestamptz` as it is, a `timestamp` or `date` as a wall
 * time in the rule's anchor zone.
 */

/** Conditions on the rows a probe looks at, built into the statement's own parameters. */
export type AnchorConditions = (params: Params) => string[];

/**
 * Rows the rule's filters select whose anchor is in none of `expired` (not yet expired at
 * the sweep's `now`) and, when given, in one of `within`.
 *
 * The first expired range is `(-inf, to]` (`expiredRanges` always starts so): the anchor
 * column bounded below by it, as a value the index serves, lets the probe start at the
 * rows just past the expiry boundary instead of walking expired rows still present (a
 * backlog, held rows, an anonymize rule's done rows). For a wall-clock column the bound is
 * the boundary's wall time two days earlier, more than any zone's offset has ever moved;
 * the exact test still decides every row.
 */
export function notExpiredConditions(rule: Rule, table: TableInfo, expired: readonly AnchorRange[], within?: readonly AnchorRange[]): AnchorConditions {
  return (params) => {
    const column = ident(rule.target.anchor);
    const parts = [`${column} IS NOT NULL`];
    const floor = expired[0]?.from === null ? expired[0].to : null;
    if (floor !== null) {
      const instant = `${params.add(new Date(floor).toISOString())}::timestamptz`;
      const type = baseType(rule, table);
      if (type === 'timestamptz') parts.push(`${column} > ${instant}`);
      else {
        const wall = `((${instant} AT TIME ZONE ${params.add(anchorZone(rule))}::text) - interval '2 days')`;
        parts.push(`${column} > ${type === 'date' ? `${wall}::date` : wall}`);
      }
    }
    if (expired.length > 0) parts.push(`NOT ${expiredPredicate(rule, table, expired, params)}`);
    if (within) parts.push(expiredPredicate(rule, table, within, params));
    parts.push(...rule.target.where.map((f) => filterPredicate(f, params)));
    return parts;
  };
}

/** Rows the selection would change now: the same predicate a batch's statement applies. */
export function pendingConditions(rule: Rule, table: TableInfo, selection: SelectionParts, context: AnonymizeContext): AnchorConditions {
  return (params) => [`${ident(rule.target.anchor)} IS NOT NULL`, rulePredicate(rule, table, selection, params, context)];
}

/**
 * The row with the smallest anchor column value among those `conditions` select: its
 * anchor's instant as whole epoch milliseconds (`ms`, text), whether it has digits below
 * the millisecond (`sub`), and the column's own value (`wall`, text) for a wall-clock
 * column. No row when none matches.
 */
export function firstAnchorStatement(rule: Rule, table: TableInfo, conditions: AnchorConditions): Statement {
  const params = new Params();
  const column = ident(rule.target.anchor);
  const instant = anchorInstant(rule, table, params);
  const where = conditions(params);
  return {
    text: `SELECT ${epochParts('t')}, w FROM (SELECT ${instant} AS t, ${column}::text AS w FROM ${qualified(rule.target.table)}
                                          WHERE ${where.join(' AND ')} ORDER BY ${column} LIMIT 1) AS s`,
    values: params.values,
  };
}

/**
 * The smallest anchor instant among the rows `conditions` select whose wall-clock value
 * lies from `wall` up to `spanMs` later. Wall times are not ordered like their instants
 * where the zone's offset changes: in a spring-forward gap, 02:30 (which no clock showed)
 * is read as 03:30, after the real 03:00. Within `spanMs` (the largest offset change near
 * the first row, see `offsetSpan`) of the smallest wall time lies every row whose instant
 * can be earlier than that row's.
 */
export function minAnchorWithinStatement(rule: Rule, table: TableInfo, conditions: AnchorConditions, wall: string, spanMs: number): Statement {
  const params = new Params();
  const column = ident(rule.target.anchor);
  const instant = anchorInstant(rule, table, params);
  const from = params.add(wall);
  const where = [`${column} >= ${from}`, `${column} <= (${from}::timestamp + ${params.add(spanMs)} * interval '1 millisecond')`, ...conditions(params)];
  return {
    text: `SELECT ${epochParts('t')} FROM (SELECT min(${instant}) AS t FROM ${qualified(rule.target.table)} WHERE ${where.join(' AND ')}) AS s WHERE t IS NOT NULL`,
    values: params.values,
  };
}

/** True when the anchor column holds wall-clock times (`timestamp`, `date`) rather than instants. */
export function isWallClock(rule: Rule, table: TableInfo): boolean {
  return baseType(rule, table) !== 'timestamptz';
}

/** The zone wall-clock anchors are read in: the rule's anchor zone, as `expiredPredicate` reads them. */
export function anchorZone(rule: Rule): string {
  return rule.target.anchorZone?.name ?? rule.timezone;
}

/** The anchor as an instant, exactly as `expiredPredicate` compares it. */
function anchorInstant(rule: Rule, table: TableInfo, params: Params): string {
  const column = ident(rule.target.anchor);
  const type = baseType(rule, table);
  if (type === 'timestamptz') return column;
  return `(${type === 'date' ? `${column}::timestamp` : column} AT TIME ZONE ${params.add(anchorZone(rule))}::text)`;
}

function baseType(rule: Rule, table: TableInfo): string | undefined {
  return table.columns.get(rule.target.anchor)?.baseType;
}

/**
 * An instant column as whole epoch milliseconds (truncated, exact: no floating point) and
 * whether digits below the millisecond were cut.
 */
function epochParts(column: string): string {
  const ms = `date_trunc('milliseconds', ${column})`;
  return `(extract(epoch from ${ms}) * 1000)::numeric(20, 0)::text AS ms, ${column} <> ${ms} AS sub`;
}
