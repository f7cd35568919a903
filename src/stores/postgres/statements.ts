import type { AnonymizeContext } from '../../anonymize/strategy.js';
import { getStrategy } from '../../anonymize/registry.js';
import { renderAssign, renderPending, type ColumnRef } from './render-anonymize.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { SelectionParts } from '../selection.js';
import { subjectColumn } from '../sql/subject-selection.js';
import type { FilterValue, SqlRule as Rule, WhereFilter } from '../sql/sql-target.js';
import type { KeyRange } from '../store.js';
import type { TableInfo } from './catalog.js';
import { ident, Params, qualified, type Statement } from './sql.js';
import { moveToArchiveStatement, type ArchiveMove } from './archive-statements.js';

/**
 * Pure builders for every statement a PostgreSQL sweep runs. Identifiers are quoted,
 * values are bind parameters; the same predicate is used to count, to preview and to
 * change, so what `plan` shows is what `run` does. The predicate sits inside the DELETE or
 * UPDATE itself, so a row whose anchor or filter columns changed since planning is left.
 */

/** Rows the rule would change: for `plan`. */
export function countStatement(rule: Rule, table: TableInfo, selection: SelectionParts, context: AnonymizeContext): Statement {
  const params = new Params();
  const where = rulePredicate(rule, table, selection, params, context);
  return { text: `SELECT count(*)::bigint AS n FROM ${qualified(rule.target.table)} WHERE ${where}`, values: params.values };
}

/**
 * Every row of the table, for the fraction limit; with `atLeast`, counting stops there
 * (the limit needs no more, and a full count reads the whole table: see `judgeLimits`).
 */
export function totalStatement(rule: Rule, atLeast?: number): Statement {
  if (atLeast === undefined) return { text: `SELECT count(*)::bigint AS n FROM ${qualified(rule.target.table)}`, values: [] };
  return { text: `SELECT count(*)::bigint AS n FROM (SELECT FROM ${qualified(rule.target.table)} LIMIT $1) AS t`, values: [atLeast] };
}

/**
 * Rows one rule matches and the other does not, both ways, in one scan: what a config
 * change would newly delete, and what it would stop deleting.
 */
export function changeStatement(
  rule: Rule,
  selection: SelectionParts,
  previous: Rule,
  previousSelection: SelectionParts,
  table: TableInfo,
  context: AnonymizeContext,
): Statement {
  const params = new Params();
  const now = rulePredicate(rule, table, selection, params, context);
  const before = rulePredicate(previous, table, previousSelection, params, context);
  return {
    text: `SELECT count(*) FILTER (WHERE (${now}) AND NOT coalesce((${before}), false))::bigint AS newly,
                  count(*) FILTER (WHERE (${before}) AND NOT coalesce((${now}), false))::bigint AS no_longer
             FROM ${qualified(rule.target.table)}`,
    values: params.values,
  };
}

/**
 * One batch: DELETE, UPDATE (anonymize), the DELETE moving its rows into the archive table
 * (archive: `archive` says which columns, as read in the batch's transaction) or, for a dry
 * run, SELECT count(*).
 */
export function batchStatement(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  keyRange: KeyRange,
  dryRun: boolean,
  context: AnonymizeContext,
  archive?: ArchiveMove,
): Statement {
  const params = new Params();
  const target = qualified(rule.target.table);
  // SET values are built first only to keep $n numbering in text order; order is irrelevant to PG.
  const assignments =
    rule.action === 'anonymize' && !dryRun
      ? rule.anonymize
          .map(({ column, strategy }) => `${ident(column)} = ${renderAssign(getStrategy(strategy).transform, columnRef(table, column), params, context)}`)
          .join(', ')
      : '';
  const where = [keyPredicate(rule.target.key, keyRange, params), rulePredicate(rule, table, selection, params, context)]
    .filter(Boolean)
    .join(' AND ');
  if (dryRun) return { text: `SELECT count(*)::bigint AS n FROM ${target} WHERE ${where}`, values: params.values };
  if (rule.action === 'delete') return { text: `DELETE FROM ${target} WHERE ${where}`, values: params.values };
  if (rule.action === 'archive') {
    // Never a bare DELETE: an archive rule's rows leave only into the archive.
    if (!archive) throw new Error(`rule ${rule.id} archives: its batch statement needs the archive table's columns`);
    return moveToArchiveStatement({ text: `DELETE FROM ${target} WHERE ${where}`, values: params.values }, archive);
  }
  return { text: `UPDATE ${target} SET ${assignments} WHERE ${where}`, values: params.values };
}

/**
 * The keys of one batch's rows, in key order, so that a batch that failed can be split
 * into smaller ranges: those the rule matches, or (`matching` false, when evaluating the
 * rule's predicate itself fails on some row) every row in the range.
 */
export function batchKeysStatement(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  keyRange: KeyRange,
  matching: boolean,
  context: AnonymizeContext,
): Statement {
  const params = new Params();
  const key = ident(rule.target.key);
  const where = [keyPredicate(rule.target.key, keyRange, params), matching ? rulePredicate(rule, table, selection, params, context) : '']
    .filter(Boolean)
    .join(' AND ');
  return {
    text: `SELECT ${key}::text AS k FROM ${qualified(rule.target.table)}${where ? ` WHERE ${where}` : ''} ORDER BY ${key}`,
    values: params.values,
  };
}

/**
 * Rows the rule's filters select whose anchor is NULL: never expired, so kept for good;
 * counted so that `plan` and `run` show them.
 */
export function nullAnchorStatement(rule: Rule): Statement {
  const params = new Params();
  const where = [`${ident(rule.target.anchor)} IS NULL`, ...rule.target.where.map((f) => filterPredicate(f, params))].join(' AND ');
  return { text: `SELECT count(*)::bigint AS n FROM ${qualified(rule.target.table)} WHERE ${where}`, values: params.values };
}

/**
 * The key that closes a batch of `size` rows after `after`: the size-th key in order, or
 * no row when fewer remain. Walks the unique index only.
 */
export function boundaryStatement(rule: Rule, after: string | null, size: number): Statement {
  const params = new Params();
  const key = ident(rule.target.key);
  const from = after === null ? '' : `WHERE ${key} > ${params.add(after)}`;
  return {
    text: `SELECT ${key}::text AS k FROM ${qualified(rule.target.table)} ${from} ORDER BY ${key} OFFSET ${params.add(size - 1)} LIMIT 1`,
    values: params.values,
  };
}

/**
 * Whether a valid, non-partial, ordered (B-tree) index of the table starts with the anchor
 * column: then the expired rows can be found through it (`expiredBoundariesStatement`, the
 * next-expiry probes) instead of walking the whole key space. A hash or BRIN index cannot
 * give the smallest anchor.
 */
export function anchorIndexStatement(rule: Rule): Statement {
  return {
    text: `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                           JOIN pg_class c ON c.oid = i.indexrelid
                      WHERE i.indrelid = to_regclass($1) AND a.attname = $2 AND i.indisvalid AND i.indpred IS NULL
                        AND pg_indexam_has_property(c.relam, 'can_order')) AS indexed`,
    values: [qualified(rule.target.table), rule.target.anchor],
  };
}

/**
 * The batches of a sweep with few expired rows, found through the anchor index: every
 * `size`-th key, in key order, of the rows the selection would change, and the last one
 * with their count (`total`), reading at most `limit` of them. No row: nothing is
 * expired. `total` = `limit`: too many to plan this way (the caller walks the key space).
 * The rows are read in the anchor index's order, not the key's, so the LIMIT stops after
 * `limit` expired rows whatever the table's size.
 */
export function expiredBoundariesStatement(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  size: number,
  limit: number,
  context: AnonymizeContext | null,
): Statement {
  const params = new Params();
  const key = ident(rule.target.key);
  // Without the anonymize context (a caller that has none) the rows already anonymized
  // count too: more rows, so more or longer batches, never fewer rows covered.
  const where = context ? rulePredicate(rule, table, selection, params, context) : selectionPredicate(rule, table, selection, params);
  return {
    text: `SELECT k, total FROM (SELECT k, row_number() OVER (ORDER BY key) AS n, count(*) OVER () AS total
                                   FROM (SELECT ${key} AS key, ${key}::text AS k FROM ${qualified(rule.target.table)} WHERE ${where} LIMIT ${params.add(limit)}) AS e) AS s
            WHERE n % ${params.add(size)} = 0 OR n = total ORDER BY n`,
    values: params.values,
  };
}

/**
 * The smallest and largest key (two index probes) and the planner's row estimate
 * (`reltuples`; -1 when the table was never vacuumed or analyzed). A partitioned table's
 * own `reltuples` is -1 until the parent itself is analyzed (autovacuum analyzes only its
 * partitions) and stale after: its estimate is the sum of its leaf partitions', -1 when
 * one of them has none.
 */
export function keySpanStatement(rule: Rule): Statement {
  const key = ident(rule.target.key);
  const table = qualified(rule.target.table);
  return {
    text: `SELECT min(${key})::text AS lo, max(${key})::text AS hi,
                  (SELECT CASE WHEN c.relkind <> 'p' THEN c.reltuples
                               ELSE (SELECT CASE WHEN bool_and(l.reltuples >= 0) THEN sum(l.reltuples) ELSE -1 END
                                       FROM pg_partition_tree(c.oid) t JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf) END
                     FROM pg_class c WHERE c.oid = to_regclass($1))::float8 AS estimate
             FROM ${table}`,
    values: [table],
  };
}

/**
 * Rows of one batch's key range that the selection would change but that belong to held
 * subjects (`held`: the selection without `except`, see `heldSelection`): what the batch
 * kept for a legal hold.
 */
export function heldCountStatement(
  rule: Rule,
  table: TableInfo,
  held: SelectionParts,
  heldValues: readonly string[],
  keyRange: KeyRange,
  context: AnonymizeContext,
): Statement {
  const params = new Params();
  const where = [
    keyPredicate(rule.target.key, keyRange, params),
    rulePredicate(rule, table, held, params, context),
    `${ident(subjectColumn(rule))} = ANY(${params.add(heldValues)})`,
  ].filter(Boolean);
  return { text: `SELECT count(*)::bigint AS n FROM ${qualified(rule.target.table)} WHERE ${where.join(' AND ')}`, values: params.values };
}

/**
 * Every `size`-th key, in key order, among the rows of one subject the rule's filters
 * select (rows an anonymize rule already did are counted too: batches come out shorter): the
 * bounds of a subject's batches, in one pass over that subject's rows (through an index
 * on the subject column, when there is one) rather than one walk per bound.
 */
export function subjectBoundariesStatement(rule: Rule, table: TableInfo, selection: SelectionParts, size: number): Statement {
  const params = new Params();
  const key = ident(rule.target.key);
  const where = selectionPredicate(rule, table, selection, params);
  return {
    text: `SELECT k FROM (SELECT ${key}::text AS k, row_number() OVER (ORDER BY ${key}) AS n
                            FROM ${qualified(rule.target.table)} WHERE ${where}) AS s
            WHERE n % ${params.add(size)} = 0 ORDER BY n`,
    values: params.values,
  };
}

/**
 * One page of the distinct non-NULL subject values the rule's filters select, after
 * `after` in the column's own order (keyset: each page starts where the last ended, an
 * index on the column serves it). The bound is the previous page's last value as text,
 * read back as the column's type.
 */
export function subjectPageStatement(rule: Rule, after: string | null, size: number): Statement {
  const params = new Params();
  const column = ident(subjectColumn(rule));
  const where = [
    `${column} IS NOT NULL`,
    ...(after === null ? [] : [`${column} > ${params.add(after)}`]),
    ...rule.target.where.map((f) => filterPredicate(f, params)),
  ];
  return {
    text: `SELECT ${column}::text AS s FROM ${qualified(rule.target.table)} WHERE ${where.join(' AND ')} GROUP BY ${column} ORDER BY ${column} LIMIT ${params.add(size)}`,
    values: params.values,
  };
}

/**
 * The subject column compared with `values` on no row: PostgreSQL reads each bound text as
 * the column's type when the statement is bound, so a value the type cannot hold fails
 * here (a data exception), as it would fail every statement that carried it.
 */
export function subjectProbeStatement(rule: Rule, values: readonly string[]): Statement {
  return { text: `SELECT ${ident(subjectColumn(rule))} = ANY($1) AS m FROM ${qualified(rule.target.table)} LIMIT 0`, values: [values] };
}

/**
 * The tables the rule's table references through foreign keys, and the tables those
 * reference, to the end (itself left out): an erasure must delete a person's rows here
 * before their rows there, however many tables lie between. Each as `schema.table`, and
 * (`visible`) whether its bare name finds that same table on the search path, as a rule
 * naming it without a schema does. Keys as declared (`conparentid = 0`), not their copies
 * on each partition.
 */
export function referencedTablesStatement(rule: Rule): Statement {
  return {
    text: `WITH RECURSIVE refs(oid) AS (
             SELECT c.confrelid FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0 AND c.conrelid = to_regclass($1)
             UNION
             SELECT c.confrelid FROM pg_constraint c JOIN refs r ON c.conrelid = r.oid WHERE c.contype = 'f' AND c.conparentid = 0)
           SELECT format('%s.%s', n.nspname, t.relname) AS name, t.relname::text AS bare,
                  coalesce(to_regclass(quote_ident(t.relname)) = t.oid, false) AS visible
             FROM refs JOIN pg_class t ON t.oid = refs.oid JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE refs.oid <> to_regclass($1)
            ORDER BY 1`,
    values: [qualified(rule.target.table)],
  };
}

/** Whether some index of the table starts with the subject column: `check` warns when none does. */
export function subjectIndexStatement(rule: Rule): Statement {
  return {
    text: `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                      WHERE i.indrelid = to_regclass($1) AND a.attname = $2) AS indexed`,
    values: [qualified(rule.target.table), subjectColumn(rule)],
  };
}

/** The key within `range` (`after` exclusive, `upTo` inclusive); empty for an open range. */
export function keyPredicate(key: string, range: KeyRange, params: Params): string {
  const parts: string[] = [];
  if (range.after !== null) parts.push(`${ident(key)} > ${params.add(range.after)}`);
  if (range.upTo !== null) parts.push(`${ident(key)} <= ${params.add(range.upTo)}`);
  // A drop batch deleting partitions' rows: the anchor within one of their bounds, exactly
  // their rows (and PostgreSQL prunes the other partitions by it). No range: no row.
  if (range.within) {
    const column = ident(range.within.column);
    const within = range.within.ranges.map((r) => {
      const bounds = [...(r.from === null ? [] : [`${column} >= ${params.add(r.from)}`]), ...(r.to === null ? [] : [`${column} < ${params.add(r.to)}`])];
      return bounds.length === 0 ? 'true' : `(${bounds.join(' AND ')})`;
    });
    parts.push(within.length === 0 ? 'false' : within.length === 1 ? within[0]! : `(${within.join(' OR ')})`);
  }
  // A row batch of a sweep that drops partitions: not in those partitions (a NULL anchor is
  // in none, and never expired). Written as ORs of comparisons, which PostgreSQL prunes by.
  for (const r of range.outside?.ranges ?? []) {
    const column = ident(range.outside!.column);
    const outside = [...(r.from === null ? [] : [`${column} < ${params.add(r.from)}`]), ...(r.to === null ? [] : [`${column} >= ${params.add(r.to)}`])];
    parts.push(outside.length === 0 ? 'false' : `(${outside.join(' OR ')})`);
  }
  return parts.join(' AND ');
}

/** Selected by `selectionPredicate` and (for anonymize) not yet anonymized. */
export function rulePredicate(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  params: Params,
  context: AnonymizeContext,
): string {
  if (selection.none) return 'false';
  const parts = [selectionPredicate(rule, table, selection, params)];
  if (rule.action === 'anonymize') {
    const pending = rule.anonymize.map(({ column, strategy }) =>
      renderPending(getStrategy(strategy).transform, columnRef(table, column), params, context),
    );
    parts.push(`(${pending.join(' OR ')})`);
  }
  return parts.join(' AND ');
}

/**
 * Selected (expired; the subject's, or for a sunset every row: age does not matter, a NULL
 * anchor included), matching the rule's filters, and not a held subject's.
 */
function selectionPredicate(rule: Rule, table: TableInfo, selection: SelectionParts, params: Params): string {
  if (selection.none) return 'false';
  const selected =
    selection.ranges !== null
      ? expiredPredicate(rule, table, selection.ranges, params)
      : selection.subject !== null
        ? subjectPredicate(rule, selection.subject, params)
        : 'true';
  const parts = [selected, ...rule.target.where.map((f) => filterPredicate(f, params))];
  if (selection.except.length > 0) parts.push(exceptPredicate(rule, selection.except, params));
  return parts.join(' AND ');
}

/**
 * The subject column equals the value, bound untyped so PostgreSQL reads it as the
 * column's type (an index on the column serves it). `=` has no wildcards: `u_1%` is only
 * `u_1%`. The store has dropped values the type cannot read (`sqlSelection`).
 */
function subjectPredicate(rule: Rule, value: string, params: Params): string {
  return `${ident(subjectColumn(rule))} = ${params.add(value)}`;
}

/** Not a held subject's row; a row whose subject is NULL is nobody's, so no hold keeps it. */
function exceptPredicate(rule: Rule, held: readonly string[], params: Params): string {
  const column = ident(subjectColumn(rule));
  return `(${column} IS NULL OR NOT (${column} = ANY(${params.add(held)})))`;
}

/**
 * The anchor lies in one of the expired ranges. A NULL anchor compares as unknown, so it
 * never expires. `timestamp` and `date` columns hold wall-clock times and are read in the
 * rule's anchor zone (`anchorZone`, by default the config's `timezone`); `check` has made
 * sure PostgreSQL reads that name as luxon does.
 */
export function expiredPredicate(rule: Rule, table: TableInfo, ranges: readonly AnchorRange[], params: Params): string {
  if (ranges.length === 0) return 'false';
  const column = ident(rule.target.anchor);
  const type = table.columns.get(rule.target.anchor)?.baseType;
  const anchor =
    type === 'timestamptz'
      ? column
      : `(${type === 'date' ? `${column}::timestamp` : column} AT TIME ZONE ${params.add(rule.target.anchorZone?.name ?? rule.timezone)}::text)`;
  const instant = (ms: number) => `${params.add(new Date(ms).toISOString())}::timestamptz`;
  const alternatives = ranges.map((r) =>
    r.from === null ? `${anchor} <= ${instant(r.to)}` : `(${anchor} >= ${instant(r.from)} AND ${anchor} <= ${instant(r.to)})`,
  );
  const exact = alternatives.length === 1 ? alternatives[0]! : `(${alternatives.join(' OR ')})`;
  if (type === 'timestamptz') return exact;
  // A wall-clock anchor read in a zone is an expression no index on the column serves. The
  // column itself bounded by the latest range end as a wall time in that zone, two days
  // later (more than any zone's offset has ever jumped: Samoa's 24 hours in 2011), selects a
  // superset through that index; the exact test still decides every row.
  const latest = Math.max(...ranges.map((r) => r.to));
  const wall = `((${instant(latest)} AT TIME ZONE ${params.add(rule.target.anchorZone?.name ?? rule.timezone)}::text) + interval '2 days')`;
  return `(${column} <= ${type === 'date' ? `${wall}::date` : wall} AND ${exact})`;
}

/**
 * One `where` filter. The value is bound as the text written in the file, untyped, so
 * PostgreSQL reads it with the column's own type: 9007199254740993 stays that bigint and
 * '1.10' stays that text. `check` has refused values the column's type cannot take.
 */
export function filterPredicate(filter: WhereFilter, params: Params): string {
  const column = ident(filter.column);
  switch (filter.op) {
    case 'eq':
      return `${column} = ${params.add(filterText(filter.value))}`;
    case 'not-eq':
      // IS DISTINCT FROM: a NULL is "not the value" too, as a reader of the YAML expects.
      return `${column} IS DISTINCT FROM ${params.add(filterText(filter.value))}`;
    case 'is-null':
      return `${column} IS NULL`;
    case 'not-null':
      return `${column} IS NOT NULL`;
  }
}

/**
 * A filter value's text. A rule carried in a payload from before exact filter values holds
 * a bare value: bound as NULL, `IS DISTINCT FROM` would match every row with a value, so
 * such a rule is refused rather than run.
 */
function filterText(value: FilterValue): string {
  if (typeof value !== 'object' || value === null || typeof value.text !== 'string') {
    throw new Error('a where filter value without its exact text (a rule from an older version); plan the rule again from the config');
  }
  return value.text;
}

function columnRef(table: TableInfo, column: string): ColumnRef {
  const info = table.columns.get(column);
  if (!info) throw new Error(`column ${column} is not in ${table.resolvedName}`);
  return { sql: ident(column), info };
}
