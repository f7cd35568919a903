import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { SelectionParts } from '../selection.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { TableInfo } from './catalog.js';
import { ident, Params, qualified, type Statement, type TableName } from './sql.js';
import { rulePredicate } from './statements.js';

/**
 * Pure builders for the statements that sweep a range-partitioned table by dropping its
 * wholly expired partitions (see partitions.ts for the decisions). Names from config and
 * from the catalog are quoted; values are bind parameters.
 */

/**
 * Every relation of the table's partition tree (the table itself at level 0), or with
 * `focus` (partitions' names) only those partitions' ancestors and descendants, with what
 * deciding a drop needs:
 * - `keyed`: the relation is partitioned by RANGE of the anchor column alone (so its
 *   children's bounds are anchor ranges); `in_keyed`: its parent is.
 * - the bound as PostgreSQL prints it, its two values as text (NULL for MINVALUE/MAXVALUE)
 *   and, for children of a keyed relation, as epoch milliseconds (text: 'Infinity' for
 *   'infinity'). `timestamp` and `date` bounds give their wall-clock time read as UTC;
 *   partitions.ts allows for the zone.
 * - what would make a DROP do something a DELETE would not: triggers on DELETE (a DROP
 *   fires none), DELETE rules, row-level security (a DELETE deletes only the rows its
 *   policies show), foreign keys pointing at it, a publication that replicates deletes (a
 *   DROP is not replicated: subscribers would keep the rows), a foreign table (dropping it
 *   leaves the remote rows), a detach still pending, and whether this user owns it.
 *
 * The bound values are cast back in the same statement, so they are read with the session
 * settings (TimeZone, DateStyle) they were printed with. The tree is walked through
 * pg_inherits, not pg_partition_tree(), which locks every partition (but not the table):
 * a batch holding those locks that then waited for the table would deadlock with a drop
 * batch holding the table and waiting for its partition.
 */
export function partitionTreeStatement(table: TableName, anchor: string, anchorType: string, focus: readonly string[] | null = null): Statement {
  const literal = (value: string) => `CASE WHEN ${value} ~ '^''.*''$' THEN replace(substr(${value}, 2, length(${value}) - 2), '''''', '''') END`;
  const epoch = (text: string) =>
    `(CASE $3::text WHEN 'timestamptz' THEN extract(epoch FROM (${text})::timestamptz)
                    WHEN 'timestamp' THEN extract(epoch FROM (${text})::timestamp)
                    ELSE extract(epoch FROM (${text})::date::timestamp) END * 1000)::text`;
  return {
    text: `WITH RECURSIVE walk(relid, parentrelid, level, path) AS (
             SELECT c.oid, NULL::oid, 0, ARRAY[c.oid] FROM pg_class c WHERE c.oid = to_regclass($1) AND c.relkind = 'p'
             UNION ALL
             SELECT i.inhrelid, i.inhparent, walk.level + 1, walk.path || i.inhrelid FROM pg_inherits i JOIN walk ON i.inhparent = walk.relid
           ), focus AS (
             SELECT relid, path FROM walk WHERE relid IN (SELECT to_regclass(f) FROM unnest($4::text[]) f)
           ), tree AS (
             SELECT walk.relid, walk.parentrelid, walk.level FROM walk
              WHERE $4::text[] IS NULL
                 OR EXISTS (SELECT 1 FROM focus WHERE walk.relid = ANY(focus.path) OR focus.relid = ANY(walk.path))
           ), keyed AS (
             SELECT pt.partrelid AS relid
               FROM pg_partitioned_table pt
               JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = pt.partattrs[0]
              WHERE pt.partrelid IN (SELECT relid FROM tree) AND pt.partstrat = 'r' AND pt.partnatts = 1 AND a.attname = $2
           ), rels AS (
             SELECT tree.relid, tree.parentrelid, tree.level, c.relkind, n.nspname, c.relname, c.relrowsecurity, c.relowner, c.relnamespace, c.reltuples,
                    pg_get_expr(c.relpartbound, c.oid) AS bound,
                    regexp_match(pg_get_expr(c.relpartbound, c.oid), '^FOR VALUES FROM \\((.*)\\) TO \\((.*)\\)$') AS m,
                    coalesce(tree.parentrelid IN (SELECT relid FROM keyed), false) AS in_keyed,
                    tree.relid IN (SELECT relid FROM keyed) AS keyed
               FROM tree
               -- By index, row by row (OFFSET 0 keeps it so): stale catalog statistics
               -- otherwise make a hash join over the whole of pg_class.
               JOIN LATERAL (SELECT * FROM pg_class c WHERE c.oid = tree.relid OFFSET 0) c ON true
               JOIN pg_namespace n ON n.oid = c.relnamespace
           ), literals AS (
             SELECT rels.*, ${literal('m[1]')} AS lower_text, ${literal('m[2]')} AS upper_text FROM rels
           )
           SELECT l.relid::oid::bigint::text AS oid, l.parentrelid::oid::bigint::text AS parent, l.level, l.relkind::text AS relkind,
                  format('%I.%I', l.nspname, l.relname) AS name, l.nspname::text AS schema, l.relname::text AS relname,
                  l.bound, l.in_keyed, l.keyed, l.m IS NOT NULL AS ranged, l.lower_text, l.upper_text,
                  CASE WHEN l.in_keyed AND l.lower_text IS NOT NULL THEN ${epoch('l.lower_text')} END AS lower_ms,
                  CASE WHEN l.in_keyed AND l.upper_text IS NOT NULL THEN ${epoch('l.upper_text')} END AS upper_ms,
                  EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = l.relid AND (tg.tgtype::int & 8) <> 0) AS delete_triggers,
                  EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = l.relid AND r.ev_type = '4') AS delete_rules,
                  l.relrowsecurity AS row_security,
                  EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contype = 'f' AND k.confrelid = l.relid) AS referenced,
                  EXISTS (SELECT 1 FROM pg_publication_tables pt JOIN pg_publication p ON p.pubname = pt.pubname
                           WHERE p.pubdelete AND pt.schemaname = l.nspname AND pt.tablename = l.relname) AS published,
                  coalesce((SELECT (to_jsonb(i) ->> 'inhdetachpending')::boolean FROM pg_inherits i WHERE i.inhrelid = l.relid), false) AS detach_pending,
                  pg_has_role(l.relowner, 'USAGE') AS owned,
                  EXISTS (SELECT 1 FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
                           WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
                             AND d.refobjid = l.relid AND r.ev_class <> l.relid) AS dependents,
                  -- The planner's estimate of its rows (-1: never vacuumed or analyzed), to size drop batches.
                  CASE WHEN l.relkind = 'r' THEN l.reltuples
                       ELSE (SELECT coalesce(sum(greatest(dc.reltuples, 0)), 0) FROM walk d JOIN pg_class dc ON dc.oid = d.relid
                              WHERE l.relid = ANY(d.path) AND dc.relkind = 'r') END::float8 AS estimate
             FROM literals l
            ORDER BY l.level, l.relname`,
    values: [qualified(table), anchor, anchorType, focus],
  };
}

/**
 * Locks relations until the batch commits. `ACCESS EXCLUSIVE`: nothing reads or writes
 * them; `SHARE`: nothing writes them (nor changes their definition, attaches or detaches
 * them), reading goes on. `only`: not their partitions (a partitioned parent: the DROP of
 * one child needs the parent alone). The session's lock_timeout bounds the wait.
 */
export function lockStatement(tables: readonly TableName[], mode: 'ACCESS EXCLUSIVE' | 'SHARE', only: boolean): Statement {
  return { text: `LOCK TABLE ${tables.map((t) => `${only ? 'ONLY ' : ''}${qualified(t)}`).join(', ')} IN ${mode} MODE`, values: [] };
}

/**
 * Every row of each partition (its sub-partitions included): what a drop removes, for the
 * audit; one row per table, `i` its position in `tables`. One statement for them all: one
 * round trip, and the planner may count several at once with parallel workers.
 */
export function partitionRowsStatement(tables: readonly TableName[]): Statement {
  return { text: tables.map((t, i) => `SELECT ${i} AS i, count(*)::bigint AS n FROM ${qualified(t)}`).join(' UNION ALL '), values: [] };
}

/**
 * Whether a session waits for a lock on one of these relations (oids): one of them is
 * held by this batch, and a session waiting for it may hold the table a drop needs next.
 */
export function lockWaitersStatement(oids: readonly string[]): Statement {
  return {
    text: `SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE NOT l.granted AND l.locktype = 'relation'
                             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                             AND l.relation = ANY($1::oid[])) AS waiting`,
    values: [oids],
  };
}

/**
 * Bounds the lock_timeout, until the batch's transaction or savepoint ends, to half the
 * deadlock_timeout (and never above the session's own): see drop-partitions.ts. Returns
 * the setting before, to restore it.
 */
export function boundLockTimeoutStatement(): Statement {
  return {
    text: `SELECT current_setting('lock_timeout') AS previous,
                  set_config('lock_timeout',
                             (SELECT CASE WHEN l.setting::int = 0 THEN d.setting::int / 2 ELSE least(l.setting::int, d.setting::int / 2) END
                                FROM pg_settings l, pg_settings d WHERE l.name = 'lock_timeout' AND d.name = 'deadlock_timeout')::text || 'ms',
                             true) AS bounded`,
    values: [],
  };
}

/** Whether a partition holds a row of one of the held subjects (the rule's subject column). */
export function heldRowsStatement(table: TableName, subjectColumn: string, held: readonly string[]): Statement {
  return {
    text: `SELECT EXISTS (SELECT 1 FROM ${qualified(table)} WHERE ${ident(subjectColumn)} = ANY($1)) AS held`,
    values: [held],
  };
}

/**
 * Drops a partition (and its sub-partitions): it leaves its parent with it. RESTRICT (the
 * default): a view or other object depending on it makes the DROP fail rather than go too.
 */
export function dropStatement(table: TableName): Statement {
  return { text: `DROP TABLE ${qualified(table)}`, values: [] };
}

/**
 * The batches of a sweep that drops partitions: every `size`-th key, in key order, of the
 * rows the selection would change in the partitions that are not dropped (`tables`: read
 * one by one, so the dropped ones are not read at all), and the last one with their
 * count (`total`). No row: no row batch.
 */
export function remainingBoundariesStatement(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  tables: readonly TableName[],
  size: number,
  context: AnonymizeContext,
): Statement {
  const params = new Params();
  const key = ident(rule.target.key);
  const where = rulePredicate(rule, table, selection, params, context);
  const parts = tables.map((t) => `SELECT ${key} AS key, ${key}::text AS k FROM ${qualified(t)} WHERE ${where}`);
  return {
    text: `SELECT k, total FROM (SELECT k, row_number() OVER (ORDER BY key) AS n, count(*) OVER () AS total
                                   FROM (${parts.join(' UNION ALL ')}) AS e) AS s
            WHERE n % ${params.add(size)} = 0 OR n = total ORDER BY n`,
    values: params.values,
  };
}
