import type pg from 'pg';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { ConfigProblem } from '../../errors.js';
import type { SelectionParts } from '../selection.js';
import type { SqlRule as Rule } from '../sql/sql-target.js';
import type { KeyRange } from '../store.js';
import type { TableInfo } from './catalog.js';
import { keyPredicate, rulePredicate } from './statements.js';
import { ident, Params, qualified, type Statement, type TableName } from './sql.js';
import { movedRows, moveNames, moveToArchiveStatement, removesRows, type ArchiveMove, type MoveCounts } from './archive-statements.js';

/**
 * What deleting a rule's rows does to other tables through foreign keys: rows removed by
 * `ON DELETE CASCADE` (and, recursively, by their own cascades) and rows rewritten by
 * `ON DELETE SET NULL` / `SET DEFAULT`. PostgreSQL does this silently inside the DELETE,
 * so unless it is counted here it escapes `plan`, the blast-radius limits and the audit.
 */

export type CascadeAction = 'cascade' | 'set null' | 'set default';

/** One foreign key whose ON DELETE changes the referencing (child) table's rows. */
export interface CascadeEdge {
  constraint: string;
  action: CascadeAction;
  /** The referencing table, as written in the catalog (`schema.table`). */
  child: TableName & { oid: number; resolvedName: string };
  /** Referencing columns, in the key's order. */
  childColumns: string[];
  /** Referenced columns of the parent, in the same order. */
  parentColumns: string[];
}

/**
 * A table whose rows a delete of the rule's rows would change, and every way there: each
 * path starts at a foreign key onto the rule's table, follows CASCADE keys and ends at one
 * onto this table (a CASCADE key for `deleted`, a SET NULL/DEFAULT one for `modified`).
 */
export interface CascadeTarget {
  /** `schema.table` for deleted rows, `schema.table (set null)` for rewritten ones: the key of a count. */
  label: string;
  table: CascadeEdge['child'];
  effect: 'deleted' | 'modified';
  paths: CascadeEdge[][];
}

export interface Cascades {
  /** In an order where a table comes after every table on a path to it (lock order). */
  targets: CascadeTarget[];
  /**
   * Foreign keys that lead back into a table already on the path (a self-reference such
   * as `parent_id ON DELETE CASCADE`): the rows they remove cannot be counted path by
   * path, so a rule that reaches one is refused.
   */
  cycles: CascadeEdge[][];
}

/** Paths beyond this many mean a schema we cannot count in reasonable statements. */
const MAX_PATHS = 64;

const ACTIONS: Record<string, CascadeAction> = { c: 'cascade', n: 'set null', d: 'set default' };

/**
 * Foreign keys onto `oid` (or onto a partitioned table it is a partition of) whose
 * ON DELETE changes rows: constraints as declared (`conparentid = 0`), not their copies
 * on each partition. Column names travel as arrays in key order.
 */
export function cascadeEdgesStatement(oid: number): Statement {
  return {
    text: `SELECT c.conname::text AS constraint, c.confdeltype::text AS action, r.oid::int AS child_oid,
                  n.nspname::text AS child_schema, r.relname::text AS child_name,
                  ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(att, i)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att ORDER BY k.i) AS child_columns,
                  ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(att, i)
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.att ORDER BY k.i) AS parent_columns
             FROM pg_constraint c
             JOIN pg_class r ON r.oid = c.conrelid
             JOIN pg_namespace n ON n.oid = r.relnamespace
            WHERE c.contype = 'f' AND c.confdeltype IN ('c', 'n', 'd') AND c.conparentid = 0
              AND (c.confrelid = $1::oid OR c.confrelid IN (SELECT relid FROM pg_partition_ancestors($1::oid)))
            ORDER BY n.nspname, r.relname, c.conname`,
    values: [oid],
  };
}

/**
 * Reads from the catalog every table a delete from `table` reaches through foreign keys,
 * recursively (children of children). Null when the table does not exist.
 */
export async function readCascades(client: pg.Pool | pg.ClientBase, table: TableName): Promise<Cascades | null> {
  const root = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid::int AS oid', [qualified(table)]);
  const rootOid = root.rows[0]?.oid ?? null;
  if (rootOid === null) return null;
  const edgesOf = new Map<number, Promise<CascadeEdge[]>>();
  const load = (oid: number) => {
    let edges = edgesOf.get(oid);
    if (!edges) {
      edges = client.query<EdgeRow>(cascadeEdgesStatement(oid)).then(({ rows }) => rows.map(toEdge));
      edgesOf.set(oid, edges);
    }
    return edges;
  };
  const paths: CascadeEdge[][] = [];
  const cycles: CascadeEdge[][] = [];
  const walk = async (oid: number, onPath: number[], path: CascadeEdge[]): Promise<void> => {
    for (const edge of await load(oid)) {
      const next = [...path, edge];
      if (edge.action === 'cascade' && (edge.child.oid === rootOid || onPath.includes(edge.child.oid))) {
        cycles.push(next);
        continue;
      }
      paths.push(next);
      if (paths.length > MAX_PATHS) return;
      if (edge.action === 'cascade') await walk(edge.child.oid, [...onPath, edge.child.oid], next);
    }
  };
  await walk(rootOid, [rootOid], []);
  if (paths.length > MAX_PATHS) {
    cycles.push(paths[MAX_PATHS]!);
    paths.length = MAX_PATHS;
  }
  return { targets: groupTargets(paths), cycles };
}

interface EdgeRow {
  constraint: string;
  action: string;
  child_oid: number;
  child_schema: string;
  child_name: string;
  child_columns: string[];
  parent_columns: string[];
}

function toEdge(row: EdgeRow): CascadeEdge {
  return {
    constraint: row.constraint,
    action: ACTIONS[row.action]!,
    child: { oid: row.child_oid, schema: row.child_schema, name: row.child_name, resolvedName: `${row.child_schema}.${row.child_name}` },
    childColumns: row.child_columns,
    parentColumns: row.parent_columns,
  };
}

/** Paths grouped by the table (and effect) they end at, parents before children. */
export function groupTargets(paths: readonly CascadeEdge[][]): CascadeTarget[] {
  const targets = new Map<string, CascadeTarget & { depth: number }>();
  for (const path of paths) {
    const last = path[path.length - 1]!;
    const effect = last.action === 'cascade' ? 'deleted' : 'modified';
    const label = effect === 'deleted' ? last.child.resolvedName : `${last.child.resolvedName} (${last.action})`;
    const target = targets.get(label) ?? { label, table: last.child, effect, paths: [], depth: 0 };
    target.paths.push(path);
    target.depth = Math.max(target.depth, path.length);
    targets.set(label, target);
  }
  // A table's rows are reached through its parents' rows: locking (and counting) by
  // increasing longest-path depth takes every parent before its children.
  return [...targets.values()]
    .sort((a, b) => a.depth - b.depth || a.label.localeCompare(b.label))
    .map(({ depth: _depth, ...target }) => target);
}

/**
 * Problems with a delete rule whose table has such references: refused unless the rule
 * says `cascades: allow`; refused always when a reference loops back (uncountable).
 */
export function cascadeProblems(rule: Rule, cascades: Cascades, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  // An archive rule's move is a DELETE of the rule's table: its foreign keys cascade as a delete's.
  if (!removesRows(rule)) return problems;
  const shown = (edges: CascadeEdge[]) => {
    const last = edges[edges.length - 1]!;
    const via = edges.slice(0, -1).map((e) => e.child.resolvedName);
    return `${last.child.resolvedName}${via.length ? ` via ${via.join(' -> ')}` : ''} (${last.constraint}: ON DELETE ${last.action.toUpperCase()})`;
  };
  if (cascades.cycles.length > 0) {
    problems.push({
      path: `${path}.table`,
      message: `deleting these rows cascades through foreign keys that lead back into a table already reached, or through too many paths: ${cascades.cycles.map(shown).join('; ')}; such cascades cannot be counted before they happen, so this rule cannot delete (anonymize instead, or change the foreign keys)`,
    });
  }
  const reached = cascades.targets.flatMap((t) => t.paths.map(shown));
  if (reached.length > 0 && rule.target.cascades !== 'allow') {
    // An archive rule moves its own rows only: what its DELETE cascades to is deleted, not archived.
    const archived = rule.action === 'archive' ? ' (they are deleted, not archived: only this table\'s rows move to the archive)' : '';
    problems.push({
      path: `${path}.table`,
      message: `deleting these rows also changes rows of other tables through foreign keys: ${reached.join('; ')}. Add "cascades: allow" to the rule to delete them with it${archived} (plan then counts them per table, the limits include them and the audit records them), or change the foreign keys`,
    });
  }
  return problems;
}

/**
 * `EXISTS` chain: the row aliased `alias` (of the path's last table) references, through
 * the path's keys in reverse, a row of the rule's table for which `root` holds. `root` is
 * written with unqualified column names: it sits in the innermost query, whose only
 * table is the rule's, so its names resolve there first. Built innermost first.
 */
function nestedReach(rule: Rule, path: readonly CascadeEdge[], alias: string, root: string): string {
  // Level k holds the child of edge k-1 (level 0 is the rule's table); the target is level n.
  const n = path.length;
  const aliasOf = (level: number) => (level === n ? ident(alias) : ident(`l${level}`));
  const tableOf = (level: number) => (level === 0 ? qualified(rule.target.table) : qualified(path[level - 1]!.child));
  let condition = root;
  for (let level = 0; level < n; level++) {
    const edge = path[level]!;
    const on = `${row(aliasOf(level + 1), edge.childColumns)} = ${row(aliasOf(level), edge.parentColumns)}`;
    condition = `EXISTS (SELECT 1 FROM ${tableOf(level)} AS ${aliasOf(level)} WHERE ${on} AND ${condition})`;
  }
  return condition;
}

function row(alias: string, columns: readonly string[]): string {
  const refs = columns.map((c) => `${alias}.${ident(c)}`);
  return refs.length === 1 ? refs[0]! : `(${refs.join(', ')})`;
}

/** Any path reaches the target row. */
function reachesAny(rule: Rule, target: CascadeTarget, alias: string, root: (params: Params) => string, params: Params): string {
  return target.paths.map((path) => nestedReach(rule, path, alias, root(params))).join(' OR ');
}

/** The root condition of `plan` and of a dry-run batch: the rule's predicate, within the key range if any. */
function matching(rule: Rule, table: TableInfo, selection: SelectionParts, context: AnonymizeContext, keyRange: KeyRange | null) {
  return (params: Params) =>
    [keyRange ? keyPredicate(rule.target.key, keyRange, params) : '', rulePredicate(rule, table, selection, params, context)].filter(Boolean).join(' AND ');
}

/**
 * Rows each target would lose (or have rewritten) if the rule's matching rows were
 * deleted now, in one statement (one snapshot): columns `n0`, `n1`, ... in target order.
 * With `keyRange`, only for the rule's rows in that batch.
 */
export function cascadeCountStatement(
  rule: Rule,
  table: TableInfo,
  cascades: Cascades,
  selection: SelectionParts,
  context: AnonymizeContext,
  keyRange: KeyRange | null = null,
): Statement {
  const params = new Params();
  const root = matching(rule, table, selection, context, keyRange);
  // A row reached from this batch's rows and also from an earlier batch's (two paths into
  // one table) would be gone by now in a real run: counted where a run would count it.
  const earlier = keyRange?.after != null ? matching(rule, table, selection, context, { after: null, upTo: keyRange.after }) : null;
  const columns = cascades.targets.map((target, i) => {
    const reached = reachesAny(rule, target, 't', root, params);
    const where = earlier ? `(${reached}) AND NOT (${reachesAny(rule, target, 't', earlier, params)})` : reached;
    return `(SELECT count(*) FROM ${qualified(target.table)} AS t WHERE ${where})::bigint AS ${ident(`n${i}`)}`;
  });
  return { text: `SELECT ${columns.join(', ') || '1'}`, values: params.values };
}

/**
 * Locks the batch's matching rows of the rule's table (`FOR UPDATE`: nobody can change
 * them, and no new row can reference them, until the batch commits) and returns their keys.
 */
export function lockParentsStatement(rule: Rule, table: TableInfo, selection: SelectionParts, keyRange: KeyRange, context: AnonymizeContext): Statement {
  const params = new Params();
  const where = matching(rule, table, selection, context, keyRange)(params);
  const key = ident(rule.target.key);
  return {
    text: `SELECT ${key}::text AS k FROM ${qualified(rule.target.table)} WHERE ${where} ORDER BY ${key} FOR UPDATE`,
    values: params.values,
  };
}

/**
 * Locks and counts the rows of one target that reference the locked parents (`keys`):
 * locked so that what is counted is what the DELETE's cascade then removes.
 */
export function lockTargetStatement(rule: Rule, target: CascadeTarget, keyRange: KeyRange, keys: readonly string[]): Statement {
  const params = new Params();
  const root = lockedKeys(rule, keyRange, keys);
  return {
    text: `SELECT count(*)::bigint AS n FROM (SELECT 1 FROM ${qualified(target.table)} AS t WHERE ${reachesAny(rule, target, 't', root, params)} FOR UPDATE OF t) AS locked`,
    values: params.values,
  };
}

/**
 * Deletes exactly the locked parents, re-checking the rule's predicate; for an archive rule
 * the same DELETE moves them into the archive table (`archive`, required then).
 */
export function deleteLockedStatement(
  rule: Rule,
  table: TableInfo,
  selection: SelectionParts,
  keyRange: KeyRange,
  keys: readonly string[],
  context: AnonymizeContext,
  archive?: ArchiveMove,
): Statement {
  const params = new Params();
  const where = [lockedKeys(rule, keyRange, keys)(params), rulePredicate(rule, table, selection, params, context)].join(' AND ');
  const remove = { text: `DELETE FROM ${qualified(rule.target.table)} WHERE ${where}`, values: params.values };
  if (rule.action !== 'archive') return remove;
  if (!archive) throw new Error(`rule ${rule.id} archives: its batch statement needs the archive table's columns`);
  return moveToArchiveStatement(remove, archive);
}

/** The key range (so the key's index finds the rows) and the exact keys locked. */
function lockedKeys(rule: Rule, keyRange: KeyRange, keys: readonly string[]) {
  return (params: Params) =>
    [keyPredicate(rule.target.key, keyRange, params), `${ident(rule.target.key)}::text = ANY(${params.add(keys)}::text[])`].filter(Boolean).join(' AND ');
}

/** Every row of each target table (once per table), for the fraction limit. */
export function cascadeTotalStatement(cascades: Cascades): Statement {
  const tables = [...new Map(cascades.targets.map((t) => [t.table.oid, t.table])).values()];
  const parts = tables.map((t) => `(SELECT count(*) FROM ${qualified(t)})`);
  return { text: `SELECT (${parts.join(' + ') || '0'})::bigint AS n`, values: [] };
}

/** Column `n{i}` of a count row, by target label. */
export function countsByLabel(cascades: Cascades, row: Record<string, string>): Record<string, number> {
  return Object.fromEntries(cascades.targets.map((t, i) => [t.label, Number(row[`n${i}`])]));
}

/**
 * One delete batch of a rule whose rows cascade, inside the caller's transaction: lock the
 * matching parents, lock and count what will cascade per target, delete exactly those
 * parents. A dry run counts the same without locking or deleting.
 */
export async function applyCascadingBatch(
  client: pg.ClientBase,
  batch: { rule: Rule; selection: SelectionParts; keyRange: KeyRange; dryRun: boolean; context: AnonymizeContext; archive?: ArchiveMove | undefined },
  table: TableInfo,
  cascades: Cascades,
  /** `cascade:` rules: wraps the DELETE so the same statement queues the deleted rows' objects. */
  queueObjects?: (remove: Statement) => Statement,
): Promise<{ rows: number; cascaded: Record<string, number>; objects?: Record<string, number> }> {
  const { rule, selection, keyRange, context } = batch;
  if (batch.dryRun) {
    const params = new Params();
    const where = matching(rule, table, selection, context, keyRange)(params);
    const parents = await client.query<{ n: string }>(`SELECT count(*)::bigint AS n FROM ${qualified(rule.target.table)} WHERE ${where}`, params.values);
    const counts = await client.query<Record<string, string>>(cascadeCountStatement(rule, table, cascades, selection, context, keyRange));
    return { rows: Number(parents.rows[0]!.n), cascaded: countsByLabel(cascades, counts.rows[0]!) };
  }
  const keys = (await client.query<{ k: string }>(lockParentsStatement(rule, table, selection, keyRange, context))).rows.map((r) => r.k);
  const cascaded: Record<string, number> = {};
  for (const target of cascades.targets) {
    const counted = keys.length === 0 ? 0 : Number((await client.query<{ n: string }>(lockTargetStatement(rule, target, keyRange, keys))).rows[0]!.n);
    cascaded[target.label] = counted;
  }
  if (keys.length === 0) return { rows: 0, cascaded };
  const remove = deleteLockedStatement(rule, table, selection, keyRange, keys, context, batch.archive);
  let deleted: number;
  let objects: Record<string, number> | undefined;
  if (queueObjects) {
    const row = (await client.query<{ n: string; objects: Record<string, number> }>(queueObjects(remove))).rows[0]!;
    deleted = Number(row.n);
    objects = row.objects;
  } else if (batch.archive) {
    // A move counts what left the table and what the archive took: unequal, it throws.
    deleted = movedRows((await client.query<MoveCounts>(remove)).rows[0], moveNames(rule, table.resolvedName));
  } else {
    deleted = (await client.query(remove)).rowCount ?? 0;
  }
  if (deleted !== keys.length) {
    // Locked rows cannot change under us; if they did, the counts are not what happened.
    throw new Error(`rule ${rule.id}: deleted ${deleted} rows of ${table.resolvedName} but locked ${keys.length}; rolled back`);
  }
  return { rows: deleted, cascaded, ...(objects ? { objects } : {}) };
}
