import type { Action } from '../../policy/rule.js';
import type { Selection } from '../selection.js';
import { shownTable } from '../sql/sql-target.js';
import { ident, qualified, type Statement, type TableName } from './sql.js';

/**
 * `action: archive`: the statements and catalog checks that move a batch's rows to the
 * rule's archive table. Pure: text and values only, identifiers quoted. The move is one
 * statement, a DELETE whose RETURNING feeds an INSERT, so a row leaves its table only if
 * its copy is in the archive: if the INSERT fails, the DELETE fails with it.
 */

/**
 * The rule as a batch with `selection` acts. An archive rule archives only what its sweep
 * found expired: a person's erasure (`subject`) or a service sunset (`all`) must remove the
 * data, not keep it in another table, so for those its rows are deleted as a delete
 * rule's are (what was archived before is erased by the archive table's own rule, when
 * that rule declares a subject).
 */
export function actingRule<R extends { action: Action }>(rule: R, selection: Pick<Selection, 'kind'>): R {
  return rule.action === 'archive' && selection.kind !== 'expired' ? { ...rule, action: 'delete' } : rule;
}

/** Whether the rule's batches remove rows from its table (a delete, or the DELETE of an archive move): foreign keys cascade from them. */
export function removesRows(rule: { action: Action }): boolean {
  return rule.action === 'delete' || rule.action === 'archive';
}

/** What an archive batch moves its rows with, read from the catalog inside its transaction. */
export interface ArchiveMove {
  /** The archive table, as the rule names it. */
  table: TableName;
  /** Every column of the rule's table, in its order: every one is copied, so none is lost. */
  columns: readonly string[];
}

/**
 * Wraps one batch's DELETE (of the rule's table, its whole predicate inside) so that the
 * same statement inserts exactly the rows it deleted into the archive table, every column
 * listed by name. `OVERRIDING SYSTEM VALUE`: an archive column that is an identity
 * (`GENERATED ALWAYS`) takes the row's own value instead of a new one.
 *
 * Its one row counts both halves (`MoveCounts`): the rows the DELETE removed and the rows
 * the INSERT wrote. They differ when something on the archive table drops rows on the way
 * (a BEFORE INSERT trigger returning NULL, a rule): `movedRows` then refuses the batch, and
 * its transaction rolls back with nothing moved. `check` refuses such triggers and rules
 * beforehand; this is the guard for what it cannot see.
 */
export function moveToArchiveStatement(remove: Statement, move: ArchiveMove): Statement {
  if (!/^DELETE FROM /.test(remove.text)) throw new Error('moveToArchiveStatement wraps a DELETE statement');
  if (move.columns.length === 0) throw new Error('an archive move lists the columns it copies');
  const columns = move.columns.map(ident).join(', ');
  return {
    text: `WITH moved AS (${remove.text} RETURNING ${columns}),
                archived AS (INSERT INTO ${qualified(move.table)} (${columns}) OVERRIDING SYSTEM VALUE SELECT ${columns} FROM moved RETURNING 1)
           SELECT (SELECT count(*) FROM moved)::bigint AS deleted, (SELECT count(*) FROM archived)::bigint AS inserted`,
    values: remove.values,
  };
}

/** The one row of `moveToArchiveStatement`: rows deleted from the rule's table, rows inserted into the archive. */
export interface MoveCounts {
  deleted: string;
  inserted: string;
}

/** How `movedRows` names the rule and its tables: `source` as the catalog resolved it. */
export function moveNames(rule: { id: string; target: { archiveTable?: TableName | undefined } }, source: string): { ruleId: string; source: string; archive: string } {
  return { ruleId: rule.id, source, archive: rule.target.archiveTable ? shownTable(rule.target.archiveTable) : 'the archive table' };
}

/**
 * The rows an archive move moved. Throws (a failure of the batch, never a row's: the
 * transaction rolls back, so nothing is moved) when the archive did not receive exactly the
 * rows that left the rule's table: the rows missing would be gone from both.
 */
export function movedRows(counts: MoveCounts | undefined, names: { ruleId: string; source: string; archive: string }): number {
  if (!counts) throw new Error(`rule ${names.ruleId}: the archive move returned no counts`);
  const deleted = Number(counts.deleted);
  const inserted = Number(counts.inserted);
  if (deleted !== inserted) {
    throw new Error(
      `rule ${names.ruleId}: the archive move deleted ${deleted} rows of ${names.source} but ${names.archive} received ${inserted} ` +
        `(a trigger or rule on ${names.archive} dropped or redirected rows); rolled back, nothing moved`,
    );
  }
  return deleted;
}

/**
 * Locks the rule's table and its archive table in ROW EXCLUSIVE mode, the lock the move's
 * DELETE and INSERT take anyway (so it blocks no reader or writer of either): from here to
 * the commit no ALTER TABLE can add, drop or retype a column, so the columns read next are
 * the ones the move copies. Without it, a column added between the read and the move would
 * be deleted with its row and never archived.
 */
export function lockForArchiveStatement(source: TableName, archive: TableName): string {
  return `LOCK TABLE ${qualified(source)}, ${qualified(archive)} IN ROW EXCLUSIVE MODE`;
}

/** One column as the archive checks compare it. */
export interface ArchiveColumn {
  name: string;
  /** `format_type`: the type with its modifier, `character varying(100)`, `numeric(10,2)`. */
  type: string;
  notNull: boolean;
  hasDefault: boolean;
  /** `GENERATED ... STORED`: computed, cannot be written. */
  generated: boolean;
  /** An identity column (`ALWAYS` or `BY DEFAULT`): fills itself when not written. */
  identity: boolean;
}

/** What the catalog says about an archive table and the rule's table it archives. */
export interface ArchiveFacts {
  /** The archive table as PostgreSQL resolved it (`archive.tickets`); null when it does not exist. */
  resolvedName: string | null;
  schema: string | null;
  relkind: string | null;
  /** The archive table is the rule's own table (another spelling of it). */
  same: boolean;
  /** The rule's table's columns, in order. */
  sourceColumns: ArchiveColumn[];
  columns: ArchiveColumn[];
  /** Privileges PUBLIC holds on the archive table or any of its columns (`SELECT`, `INSERT`, ...). */
  publicPrivileges: string[];
  /** Enabled row triggers that fire on INSERT into the archive table or one of its partitions (`name on table`). */
  insertTriggers: string[];
  /** Rewrite rules on the archive table (`name (ON INSERT)`). */
  rules: string[];
}

/** Reads `ArchiveFacts` in one statement; names are bound and looked up with to_regclass. */
export function archiveFactsStatement(source: TableName, archive: TableName): Statement {
  const columns = (rel: string) =>
    `(SELECT coalesce(json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod), 'notNull', a.attnotnull,
                                                 'hasDefault', a.atthasdef, 'generated', a.attgenerated <> '', 'identity', a.attidentity <> '')
                               ORDER BY a.attnum), '[]'::json)
        FROM pg_attribute a WHERE a.attrelid = ${rel} AND a.attnum > 0 AND NOT a.attisdropped)`;
  return {
    text: `SELECT CASE WHEN c.oid IS NOT NULL THEN format('%s.%s', n.nspname, c.relname) END AS "resolvedName", n.nspname::text AS schema, c.relkind::text AS relkind,
                  coalesce(c.oid = to_regclass($2), false) AS same,
                  ${columns('to_regclass($2)')} AS "sourceColumns",
                  ${columns('c.oid')} AS columns,
                  array(SELECT DISTINCT x.privilege_type::text
                          FROM (SELECT c.relacl AS acl UNION ALL SELECT a.attacl FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0) AS acls,
                               aclexplode(acls.acl) AS x
                         WHERE x.grantee = 0
                         ORDER BY 1) AS "publicPrivileges",
                  -- tgtype bits: 1 row-level, 4 INSERT; tgisinternal: foreign keys' own triggers.
                  array(SELECT format('%s on %s', t.tgname, t.tgrelid::regclass)
                          FROM pg_trigger t
                         WHERE t.tgrelid IN (SELECT c.oid UNION ALL SELECT p.relid FROM pg_partition_tree(c.oid) AS p)
                           AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype & 1 = 1 AND t.tgtype & 4 = 4
                         ORDER BY 1) AS "insertTriggers",
                  array(SELECT format('%s (ON %s)', r.rulename, CASE r.ev_type WHEN '1' THEN 'SELECT' WHEN '2' THEN 'UPDATE' WHEN '3' THEN 'INSERT' ELSE 'DELETE' END)
                          FROM pg_rewrite r
                         WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'
                         ORDER BY 1) AS rules
             FROM (SELECT to_regclass($1) AS oid) AS r
             LEFT JOIN pg_class c ON c.oid = r.oid
             LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`,
    values: [qualified(archive), qualified(source)],
  };
}

/**
 * The names an erasure's order knows the archive table by (`schema.table`, and the bare
 * name when the search path finds that same table by it), as `referencedTablesStatement`
 * names the tables a rule's rows reference: the rule moving rows there goes before the
 * archive table's own rule, so a row moved mid-request is still found there.
 */
export function archiveNamesStatement(archive: TableName): Statement {
  return {
    text: `SELECT format('%s.%s', n.nspname, c.relname) AS name, c.relname::text AS bare,
                  coalesce(to_regclass(quote_ident(c.relname)) = c.oid, false) AS visible
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE c.oid = to_regclass($1)`,
    values: [qualified(archive)],
  };
}

/** Relations rows can be archived into: ordinary and partitioned tables. */
const ARCHIVABLE_RELKINDS = new Set(['r', 'p']);

/**
 * Why the archive table cannot take the rule's rows exactly as they are, one message each
 * (no path: `check` puts them at `archiveTable`, a batch refuses with them): it must exist,
 * be a table other than the rule's own, hold every column of the rule's table with the
 * same type (and writable), and any column of its own must fill itself (nullable, a
 * default, an identity), since the move writes only the rule's columns.
 */
export function archiveProblems(facts: ArchiveFacts, names: { archive: string; source: string; stateSchema: string | null }): string[] {
  const { archive: shownArchive, source: shownSource, stateSchema } = names;
  if (facts.resolvedName === null) return [`archive table ${shownArchive} does not exist (create it with the columns of ${shownSource}: see README.md, "Archive")`];
  const problems: string[] = [];
  if (facts.same) return [`${shownArchive} is the rule's own table ${shownSource}; an archive rule moves rows to another table`];
  const schema = facts.schema ?? '';
  if (schema.startsWith('pg_') || schema === 'information_schema' || schema === stateSchema) {
    return [`${shownArchive} resolves to ${facts.resolvedName}, in ${schema === stateSchema ? "this config's own state schema (stateSchema)" : 'a PostgreSQL system schema'}; rows are never archived there`];
  }
  if (!ARCHIVABLE_RELKINDS.has(facts.relkind ?? '')) problems.push(`${facts.resolvedName} is not a table (views and other relations cannot hold archived rows)`);
  const archived = new Map(facts.columns.map((c) => [c.name, c]));
  for (const column of facts.sourceColumns) {
    const into = archived.get(column.name);
    if (!into) problems.push(`${facts.resolvedName} has no column ${column.name} (${column.type}) of ${shownSource}: its values would be lost`);
    else if (into.type !== column.type) problems.push(`column ${column.name} of ${facts.resolvedName} is ${into.type}, but ${column.type} in ${shownSource}; archived values must keep their type`);
    else if (into.generated) problems.push(`column ${column.name} of ${facts.resolvedName} is GENERATED, so it cannot take the archived value`);
  }
  const copied = new Set(facts.sourceColumns.map((c) => c.name));
  for (const column of facts.columns) {
    if (copied.has(column.name) || !column.notNull || column.hasDefault || column.identity || column.generated) continue;
    problems.push(`column ${column.name} of ${facts.resolvedName} is NOT NULL without a default, and ${shownSource} has no such column to fill it (give it a default, e.g. archived_at timestamptz NOT NULL DEFAULT now())`);
  }
  // What runs on each archived row can drop it (BEFORE INSERT returning NULL), change it or
  // move it on: rows would leave the rule's table without arriving as they were.
  if (facts.insertTriggers.length > 0) {
    problems.push(
      `${facts.resolvedName} has row triggers on INSERT (${facts.insertTriggers.join(', ')}): a trigger can drop or change the rows archived into it, which would then leave ${shownSource} without arriving; drop or disable them (fill its own columns with defaults instead)`,
    );
  }
  // A rule rewrites the statements on the table: the move's INSERT (into another table, or
  // into nothing), or its own expiry rule's DELETE.
  if (facts.rules.length > 0) {
    problems.push(
      `${facts.resolvedName} has rewrite rules (${facts.rules.join(', ')}): a rule can send the rows archived into it elsewhere or nowhere; drop them (DROP RULE name ON ${facts.resolvedName})`,
    );
  }
  return problems;
}
