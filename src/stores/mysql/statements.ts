import type { AnonymizeContext } from '../../anonymize/strategy.js';
import { getStrategy } from '../../anonymize/registry.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { SelectionParts } from '../selection.js';
import { subjectColumn } from '../sql/subject-selection.js';
import type { Rule } from '../../policy/rule.js';
import type { KeyRange } from '../store.js';
import type { WhereFilter } from '../sql/sql-target.js';
import { BINARY_DATA_TYPES, INTEGER_DATA_TYPES, TEXT_DATA_TYPES, type MysqlColumn, type MysqlTable } from './catalog.js';
import type { MysqlTarget } from './mysql-target.js';
import { integer, join, qualified, ident, raw, sql, type Fragment } from './mysql-sql.js';
import { renderPending, renderAssign } from './render-anonymize.js';
import { readingText, wallClockIntervals, type WallInterval } from './wall-clock-intervals.js';

/**
 * Pure builders for every statement a MariaDB/MySQL sweep runs. Identifiers are quoted,
 * values are bind parameters; the same predicate is used to count, to preview and to
 * change, so what `plan` shows is what `run` does. The predicate sits inside the DELETE or
 * UPDATE itself, so a row whose anchor or filter columns changed since planning is left.
 */
type MysqlRule = Rule<MysqlTarget>;

/** Rows the rule would change: for `plan`. */
export function countStatement(rule: MysqlRule, table: MysqlTable, selection: SelectionParts, context: AnonymizeContext): Fragment {
  return sql`SELECT COUNT(*) AS n FROM ${qualified(rule.target.table)} WHERE ${rulePredicate(rule, table, selection, context)}`;
}

/** Every row of the table, for the fraction limit. */
export function totalStatement(rule: MysqlRule, atLeast?: number): Fragment {
  if (atLeast === undefined) return sql`SELECT COUNT(*) AS n FROM ${qualified(rule.target.table)}`;
  // Counting stops where the fraction limit is settled (see `judgeLimits`).
  return sql`SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${qualified(rule.target.table)} LIMIT ${integer(atLeast)}) AS t`;
}

/**
 * Rows one rule matches and the other does not, both ways, in one scan: what a config
 * change would newly delete, and what it would stop deleting (`plan --diff`).
 */
export function changeStatement(
  rule: MysqlRule,
  selection: SelectionParts,
  previous: MysqlRule,
  previousSelection: SelectionParts,
  table: MysqlTable,
  context: AnonymizeContext,
): Fragment {
  const now = () => rulePredicate(rule, table, selection, context);
  const before = () => rulePredicate(previous, table, previousSelection, context);
  return sql`SELECT COALESCE(SUM((${now()}) AND NOT COALESCE((${before()}), FALSE)), 0) AS newly,
                    COALESCE(SUM((${before()}) AND NOT COALESCE((${now()}), FALSE)), 0) AS no_longer
               FROM ${qualified(rule.target.table)}`;
}

/** One batch: DELETE, UPDATE (anonymize) or, for a dry run, SELECT COUNT(*). */
export function batchStatement(
  rule: MysqlRule,
  table: MysqlTable,
  selection: SelectionParts,
  keyRange: KeyRange,
  dryRun: boolean,
  context: AnonymizeContext,
): Fragment {
  const target = qualified(rule.target.table);
  const where = join([keyPredicate(rule, table, keyRange), rulePredicate(rule, table, selection, context)], ' AND ');
  if (dryRun) return sql`SELECT COUNT(*) AS n FROM ${target} WHERE ${where}`;
  if (rule.action === 'delete') return sql`DELETE FROM ${target} WHERE ${where}`;
  if (rule.action !== 'anonymize') throw new Error(`rule ${rule.id}: a MySQL store cannot ${rule.action}`);
  const assignments = join(
    rule.anonymize.map(({ column, strategy }) => sql`${ident(column)} = ${renderAssign(getStrategy(strategy).transform, columnOf(table, column), context)}`),
    ', ',
  );
  return sql`UPDATE ${target} SET ${assignments} WHERE ${where}`;
}

/**
 * The keys of one part of a batch, in key order, as KeyRange text: of the rows the batch
 * statement would change, or (`matching` false) of every row in the range, for when the
 * rule's predicate itself fails on a row. Row isolation splits the batch by them.
 */
export function batchKeysStatement(
  rule: MysqlRule,
  table: MysqlTable,
  selection: SelectionParts,
  keyRange: KeyRange,
  matching: boolean,
  context: AnonymizeContext,
): Fragment {
  const key = columnOf(table, rule.target.key);
  const parts = [keyPredicate(rule, table, keyRange), ...(matching ? [rulePredicate(rule, table, selection, context)] : [])];
  return sql`SELECT ${keyText(key)} AS k FROM ${qualified(rule.target.table)} WHERE ${join(parts, ' AND ')} ORDER BY ${ident(key.name)}`;
}

/**
 * Rows the rule's filters select whose anchor cannot be judged: NULL (never expired, kept
 * for good) or not a real date (`0000-00-00`, a zero day or month, which MariaDB stores
 * in some SQL modes and which would otherwise sort before every bound). Counted so that
 * `plan` and `run` show them.
 */
export function unjudgedStatement(rule: MysqlRule, table: MysqlTable): Fragment {
  const anchor = ident(rule.target.anchor);
  const filters = rule.target.where.map((f) => filterPredicate(f, table));
  const where = filters.length === 0 ? raw('TRUE') : join(filters, ' AND ');
  return sql`SELECT COALESCE(SUM(${anchor} IS NULL), 0) AS null_anchor,
                    COALESCE(SUM(${anchor} IS NOT NULL AND NOT ${validAnchor(anchor)}), 0) AS malformed_anchor
               FROM ${qualified(rule.target.table)} WHERE ${where}`;
}

/**
 * Foreign keys through which deleting the table's rows would delete or rewrite rows of
 * other tables, read at the moment of a batch: one added since `check` is not deleted
 * through unseen.
 */
export function cascadingKeysStatement(table: MysqlTable): Fragment {
  const name = table.resolvedName.slice(table.database.length + 1);
  return sql`SELECT CONSTRAINT_SCHEMA AS db, TABLE_NAME AS tbl, CONSTRAINT_NAME AS name, DELETE_RULE AS on_delete
               FROM information_schema.REFERENTIAL_CONSTRAINTS
              WHERE UNIQUE_CONSTRAINT_SCHEMA = ${table.database} AND REFERENCED_TABLE_NAME = ${name}
                AND DELETE_RULE IN ('CASCADE', 'SET NULL', 'SET DEFAULT')`;
}

/**
 * Rows of one batch's key range that the selection would change but that belong to held
 * subjects (`held`: the selection without `except`, see `heldSelection`): what the batch
 * kept for a legal hold.
 */
export function heldCountStatement(
  rule: MysqlRule,
  table: MysqlTable,
  held: SelectionParts,
  heldValues: readonly string[],
  keyRange: KeyRange,
  context: AnonymizeContext,
): Fragment {
  const where = join([keyPredicate(rule, table, keyRange), rulePredicate(rule, table, held, context), heldIn(rule, table, heldValues)], ' AND ');
  return sql`SELECT COUNT(*) AS n FROM ${qualified(rule.target.table)} WHERE ${where}`;
}

/**
 * Every `size`-th key, in key order, among the rows of one subject the rule's filters
 * select (rows an anonymize rule already did are counted too: batches come out shorter):
 * the bounds of a subject's batches, in one pass over that subject's rows (through an
 * index on the subject column, when there is one) rather than one walk per bound.
 */
export function subjectBoundariesStatement(rule: MysqlRule, table: MysqlTable, selection: SelectionParts, size: number): Fragment {
  const key = columnOf(table, rule.target.key);
  return sql`SELECT k FROM (SELECT ${keyText(key)} AS k, ROW_NUMBER() OVER (ORDER BY ${ident(key.name)}) AS n
                              FROM ${qualified(rule.target.table)} WHERE ${selectionPredicate(rule, table, selection)}) AS s
              WHERE MOD(n, ${integer(size)}) = 0 ORDER BY n`;
}

/**
 * One page of subject groups: the distinct values of the subject column in its own order
 * (for text, its collation's: `Ann` and `ann` are one group in a case-insensitive one),
 * after `after`, among the rows the rule's filters select. Keyset: an index on the column
 * serves it. `subjectVariantsStatement` then reads the exact values of these groups.
 */
export function subjectGroupsStatement(rule: MysqlRule, table: MysqlTable, after: string | null, size: number): Fragment {
  const column = columnOf(table, subjectColumn(rule));
  const c = ident(column.name);
  const parts = [sql`${c} IS NOT NULL`, ...(after === null ? [] : [sql`${c} > ${typedValue(column, after)}`]), ...rule.target.where.map((f) => filterPredicate(f, table))];
  const value = isTextual(column) ? c : sql`CAST(${c} AS CHAR)`;
  return sql`SELECT ${value} AS s FROM ${qualified(rule.target.table)} WHERE ${join(parts, ' AND ')} GROUP BY ${c} ORDER BY ${c} LIMIT ${integer(size)}`;
}

/**
 * The exact values (bytes, as UTF-8) of a text subject column between two groups of
 * `subjectGroupsStatement`, inclusive: what the collation folds together (case, trailing
 * spaces) are different people to an exact match, so each is listed.
 */
export function subjectVariantsStatement(rule: MysqlRule, table: MysqlTable, first: string, last: string): Fragment {
  const c = ident(columnOf(table, subjectColumn(rule)).name);
  const parts = [sql`${c} >= ${first}`, sql`${c} <= ${last}`, ...rule.target.where.map((f) => filterPredicate(f, table))];
  return sql`SELECT DISTINCT ${exactBytes(c)} AS s FROM ${qualified(rule.target.table)} WHERE ${join(parts, ' AND ')}`;
}

/**
 * The tables the rule's table references through foreign keys, and the tables those
 * reference, to the end (itself left out): an erasure must delete a person's rows here
 * before their rows there, however many tables lie between. Each as `db.table`, and
 * (`visible`) whether its bare name finds it, in the connection's database.
 */
export function referencedTablesStatement(table: MysqlTable): Fragment {
  const name = table.resolvedName.slice(table.database.length + 1);
  return sql`WITH RECURSIVE refs (db, tbl) AS (
               SELECT UNIQUE_CONSTRAINT_SCHEMA, REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS
                WHERE CONSTRAINT_SCHEMA = ${table.database} AND TABLE_NAME = ${name}
               UNION
               SELECT r.UNIQUE_CONSTRAINT_SCHEMA, r.REFERENCED_TABLE_NAME FROM information_schema.REFERENTIAL_CONSTRAINTS r
                 JOIN refs ON r.CONSTRAINT_SCHEMA = refs.db AND r.TABLE_NAME = refs.tbl)
             SELECT CONCAT(db, '.', tbl) AS name, tbl AS bare, COALESCE(db = DATABASE(), FALSE) AS visible
               FROM refs WHERE NOT (db = ${table.database} AND tbl = ${name}) ORDER BY name`;
}

/** Whether some index of the table starts with the subject column: `check` warns when none does. */
export function subjectIndexStatement(rule: MysqlRule, table: MysqlTable): Fragment {
  const name = table.resolvedName.slice(table.database.length + 1);
  return sql`SELECT COUNT(*) AS n FROM information_schema.STATISTICS
              WHERE TABLE_SCHEMA = ${table.database} AND TABLE_NAME = ${name} AND COLUMN_NAME = ${subjectColumn(rule)} AND SEQ_IN_INDEX = 1`;
}

/** The key that closes a batch of `size` rows after `after`: the size-th key in order, or no row. */
export function boundaryStatement(rule: MysqlRule, table: MysqlTable, after: string | null, size: number): Fragment {
  const key = columnOf(table, rule.target.key);
  const from = after === null ? raw('') : sql`WHERE ${ident(key.name)} > ${keyValue(key, after)}`;
  return sql`SELECT ${keyText(key)} AS k FROM ${qualified(rule.target.table)} ${from} ORDER BY ${ident(key.name)} LIMIT 1 OFFSET ${integer(size - 1)}`;
}

/**
 * Whether some index of the table starts with the anchor column: then a sweep's expired
 * rows are found through it (`expiredBoundariesStatement`).
 */
export function anchorIndexStatement(rule: MysqlRule, table: MysqlTable): Fragment {
  const name = table.resolvedName.slice(table.database.length + 1);
  return sql`SELECT COUNT(*) AS n FROM information_schema.STATISTICS
              WHERE TABLE_SCHEMA = ${table.database} AND TABLE_NAME = ${name} AND COLUMN_NAME = ${rule.target.anchor} AND SEQ_IN_INDEX = 1
                AND INDEX_TYPE = 'BTREE'`;
}

/**
 * The batches of a sweep with few expired rows, through the anchor index: every `size`-th
 * key, in key order, of the rows the selection would change, then the last with their
 * count (`total`), reading at most `limit` of them (`total` = `limit`: too many to plan
 * so). Without the anonymize context, rows already anonymized count too (more batches,
 * never fewer rows covered). As PostgreSQL's (src/stores/postgres/statements.ts).
 */
export function expiredBoundariesStatement(
  rule: MysqlRule,
  table: MysqlTable,
  selection: SelectionParts,
  size: number,
  limit: number,
  context: AnonymizeContext | null,
): Fragment {
  const key = columnOf(table, rule.target.key);
  const where = context ? rulePredicate(rule, table, selection, context) : selectionPredicate(rule, table, selection);
  return sql`SELECT k, total FROM (SELECT k, ROW_NUMBER() OVER (ORDER BY kk) AS n, COUNT(*) OVER () AS total
                                     FROM (SELECT ${ident(key.name)} AS kk, ${keyText(key)} AS k FROM ${qualified(rule.target.table)}
                                            WHERE ${where} LIMIT ${integer(limit)}) AS e) AS s
              WHERE MOD(n, ${integer(size)}) = 0 OR n = total ORDER BY n`;
}

/** The smallest and largest key (two index probes), as text. */
export function keySpanStatement(rule: MysqlRule, table: MysqlTable): Fragment {
  const key = columnOf(table, rule.target.key);
  return sql`SELECT CAST(MIN(${ident(key.name)}) AS CHAR) AS lo, CAST(MAX(${ident(key.name)}) AS CHAR) AS hi FROM ${qualified(rule.target.table)}`;
}

/** Key columns: integers are split by arithmetic, binary keys travel as hex. */
export type KeyKind = 'integer' | 'decimal' | 'text' | 'binary';

export function keyKind(column: MysqlColumn): KeyKind | null {
  if (INTEGER_DATA_TYPES.has(column.dataType)) return 'integer';
  if (column.dataType === 'decimal') return 'decimal';
  if (column.dataType === 'char' || column.dataType === 'varchar') return 'text';
  if (BINARY_DATA_TYPES.has(column.dataType)) return 'binary';
  return null;
}

/** A key as the opaque text of a KeyRange bound: its digits, its characters, or hex for bytes. */
function keyText(key: MysqlColumn): Fragment {
  return keyKind(key) === 'binary' ? sql`HEX(${ident(key.name)})` : sql`CAST(${ident(key.name)} AS CHAR)`;
}

/** A KeyRange bound back as a value of the key's type. */
function keyValue(key: MysqlColumn, text: string): Fragment {
  switch (keyKind(key)) {
    case 'integer':
      return key.unsigned ? sql`CAST(${text} AS UNSIGNED)` : sql`CAST(${text} AS SIGNED)`;
    case 'decimal':
      return sql`CAST(${text} AS DECIMAL(${raw(String(key.precision ?? 65))}, ${raw(String(key.scale ?? 0))}))`;
    case 'binary':
      return sql`UNHEX(${text})`;
    default:
      return sql`${text}`;
  }
}

function keyPredicate(rule: MysqlRule, table: MysqlTable, range: KeyRange): Fragment {
  const key = columnOf(table, rule.target.key);
  const parts: Fragment[] = [];
  if (range.after !== null) parts.push(sql`${ident(key.name)} > ${keyValue(key, range.after)}`);
  if (range.upTo !== null) parts.push(sql`${ident(key.name)} <= ${keyValue(key, range.upTo)}`);
  return parts.length === 0 ? raw('TRUE') : join(parts, ' AND ');
}

/** Selected by `selectionPredicate` and (for anonymize) not yet anonymized. */
export function rulePredicate(rule: MysqlRule, table: MysqlTable, selection: SelectionParts, context: AnonymizeContext): Fragment {
  if (selection.none) return raw('FALSE');
  const parts = [selectionPredicate(rule, table, selection)];
  if (rule.action === 'anonymize') {
    const pending = rule.anonymize.map(({ column, strategy }) => renderPending(getStrategy(strategy).transform, columnOf(table, column), context));
    parts.push(sql`(${join(pending, ' OR ')})`);
  }
  return join(parts, ' AND ');
}

/**
 * Selected (expired; the subject's, or for a sunset every row: age does not matter),
 * matching the rule's filters, and not a held subject's.
 */
function selectionPredicate(rule: MysqlRule, table: MysqlTable, selection: SelectionParts): Fragment {
  if (selection.none) return raw('FALSE');
  // A sunset's `all` (no ranges, no subject): every row, a NULL or zero anchor included.
  const selected =
    selection.ranges !== null
      ? expiredPredicate(rule, table, selection.ranges)
      : selection.subject !== null
        ? subjectIn(rule, table, [selection.subject])
        : raw('TRUE');
  const parts = [selected, ...rule.target.where.map((f) => filterPredicate(f, table))];
  // A row whose subject is NULL is nobody's, so no hold keeps it.
  if (selection.except.length > 0) parts.push(sql`(${ident(subjectColumn(rule))} IS NULL OR NOT ${heldIn(rule, table, selection.except)})`);
  return join(parts, ' AND ');
}

/**
 * The subject column equals one of `values`, compared as a `where` filter is: text byte
 * for byte (a case-insensitive collation would take "ANN" for "ann", and `=` has no
 * wildcards), other types as the value cast to the column's type. The store has dropped
 * the values the type cannot hold (`sqlSelection`): a CAST would turn '1abc' into 1.
 */
function subjectIn(rule: MysqlRule, table: MysqlTable, values: readonly string[]): Fragment {
  const column = subjectColumn(rule);
  const each = values.map((text) => filterPredicate({ column, op: 'eq', value: { kind: 'string', text } }, table));
  return each.length === 1 ? each[0]! : sql`(${join(each, ' OR ')})`;
}

/**
 * The subject column holds one of the held `values` as the column's own collation compares
 * text: under a case-insensitive, PAD SPACE collation a hold on "ann" also keeps "ANN" and
 * "ann ", which the store itself (and the application reading it) takes for the same
 * value. Wider than `subjectIn` on purpose: an erasure deletes only the exact id, a hold
 * keeps everything that could be that person. Non-text columns compare as `subjectIn`.
 */
function heldIn(rule: MysqlRule, table: MysqlTable, values: readonly string[]): Fragment {
  const column = columnOf(table, subjectColumn(rule));
  if (!isTextual(column)) return subjectIn(rule, table, values);
  const c = ident(column.name);
  const each = values.map((text) => sql`${c} = ${text}`);
  return each.length === 1 ? each[0]! : sql`(${join(each, ' OR ')})`;
}

/** A real date: `0000-00-00` and zero days or months give NULL when moved by nothing. */
export function validAnchor(anchor: Fragment): Fragment {
  return sql`(${anchor} + INTERVAL 0 DAY) IS NOT NULL`;
}

/** Interval lists per zone and ranges: computing them walks the zone's offsets. */
const intervalCache = new Map<string, WallInterval[]>();
const CACHE_LIMIT = 256;

function intervalsFor(ranges: readonly AnchorRange[], zone: string): WallInterval[] {
  const key = `${zone}|${JSON.stringify(ranges)}`;
  let intervals = intervalCache.get(key);
  if (!intervals) {
    intervals = wallClockIntervals(ranges, zone);
    if (intervalCache.size >= CACHE_LIMIT) intervalCache.clear();
    intervalCache.set(key, intervals);
  }
  return intervals;
}

/**
 * The anchor lies in one of the expired ranges. A TIMESTAMP is an instant, read in the
 * session's UTC; DATETIME and DATE hold wall-clock readings in the rule's anchor zone, so
 * the instant ranges become the readings that stand for them (two intervals where a DST
 * gap makes readings repeat instants). A NULL anchor compares as unknown and never
 * expires; neither does a zero date. Bounds are microsecond DATETIME(6) values at whole
 * milliseconds, so an anchor with sub-millisecond digits past a bound is never taken early.
 */
export function expiredPredicate(rule: MysqlRule, table: MysqlTable, ranges: readonly AnchorRange[]): Fragment {
  const column = columnOf(table, rule.target.anchor);
  const anchor = ident(column.name);
  const zone = column.dataType === 'timestamp' ? 'UTC' : rule.target.anchorZone.name;
  const intervals = ranges.length === 0 ? [] : intervalsFor(ranges, zone);
  if (intervals.length === 0) return raw('FALSE');
  const reading = (ms: number) => sql`CAST(${readingText(ms)} AS DATETIME(6))`;
  const alternatives = intervals.map((i) => {
    const upper = i.toExclusive ? sql`${anchor} < ${reading(i.to)}` : sql`${anchor} <= ${reading(i.to)}`;
    return i.from === null ? upper : sql`(${anchor} >= ${reading(i.from)} AND ${upper})`;
  });
  return sql`(${validAnchor(anchor)} AND ${alternatives.length === 1 ? alternatives[0]! : sql`(${join(alternatives, ' OR ')})`})`;
}

/**
 * One `where` filter, exactly: the value is bound as the text written in the file and
 * cast to the column's type (a BIGINT compared with text would compare as floating
 * point, and 9007199254740993 would match ...992); text compares byte for byte (a
 * case-insensitive collation would match "ACME" for "acme"). `check` has refused values
 * the column's type cannot take.
 */
export function filterPredicate(filter: WhereFilter, table: MysqlTable): Fragment {
  const column = columnOf(table, filter.column);
  const c = ident(column.name);
  switch (filter.op) {
    case 'is-null':
      return sql`${c} IS NULL`;
    case 'not-null':
      return sql`${c} IS NOT NULL`;
    case 'eq':
    case 'not-eq': {
      const text = filterText(filter.value);
      const textual = isTextual(column);
      const value = typedValue(column, filter.value.kind === 'boolean' ? (text === 'true' ? '1' : '0') : text);
      if (filter.op === 'eq') {
        // The plain comparison first lets an index on the column serve the filter.
        return textual ? sql`(${c} = ${text} AND ${exactBytes(c)} = CAST(${text} AS BINARY))` : sql`${c} = ${value}`;
      }
      // NULL-safe: a NULL is "not the value" too, as a reader of the YAML expects.
      return textual ? sql`NOT (${exactBytes(c)} <=> CAST(${text} AS BINARY))` : sql`NOT (${c} <=> ${value})`;
    }
  }
}

export function exactBytes(column: Fragment): Fragment {
  return sql`CAST(CONVERT(${column} USING utf8mb4) AS BINARY)`;
}

export function isTextual(column: MysqlColumn): boolean {
  return TEXT_DATA_TYPES.has(column.dataType) || column.dataType === 'enum' || column.dataType === 'set';
}

/** A filter value cast to the column's type, so the comparison is the column's own. */
export function typedValue(column: MysqlColumn, text: string): Fragment {
  switch (column.dataType) {
    case 'tinyint':
    case 'smallint':
    case 'mediumint':
    case 'int':
    case 'bigint':
    case 'year':
    case 'bit':
      return column.unsigned || column.dataType === 'bit' ? sql`CAST(${text} AS UNSIGNED)` : sql`CAST(${text} AS SIGNED)`;
    case 'decimal':
      return sql`CAST(${text} AS DECIMAL(${raw(String(column.precision ?? 65))}, ${raw(String(column.scale ?? 0))}))`;
    case 'float':
    case 'double':
      return sql`CAST(${text} AS DOUBLE)`;
    case 'date':
      return sql`CAST(${text} AS DATE)`;
    case 'datetime':
    case 'timestamp':
      return sql`CAST(${text} AS DATETIME(6))`;
    case 'time':
      return sql`CAST(${text} AS TIME(6))`;
    default:
      return sql`${text}`;
  }
}

/** A filter value's exact text; a rule from before exact filter values is refused, not run. */
function filterText(value: { text?: unknown } | null | undefined): string {
  if (typeof value !== 'object' || value === null || typeof value.text !== 'string') {
    throw new Error('a where filter value without its exact text (a rule from an older version); plan the rule again from the config');
  }
  return value.text;
}

export function columnOf(table: MysqlTable, name: string): MysqlColumn {
  const info = table.columns.get(name);
  if (!info) throw new Error(`column ${name} is not in ${table.resolvedName}`);
  return info;
}
