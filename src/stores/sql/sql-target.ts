import type { Rule } from '../../policy/rule.js';
import type { ObjectCascade } from './object-cascade.js';

/** A possibly schema-qualified table name. */
export interface TableName {
  schema: string | null;
  name: string;
}

/**
 * A `where` value exactly as written: its YAML kind and its text (a number's digits as in
 * the file, never rounded through a JavaScript number). Bound as text, so the database
 * reads it with the column's own type; `check` refuses a kind that does not fit the column.
 */
export interface FilterValue {
  kind: 'string' | 'number' | 'boolean';
  text: string;
}

/** A structured row filter from a rule's `where`. Values always travel as bind parameters. */
export type WhereFilter =
  | { column: string; op: 'eq'; value: FilterValue }
  | { column: string; op: 'not-eq'; value: FilterValue }
  | { column: string; op: 'is-null' }
  | { column: string; op: 'not-null' };

/**
 * The zone `timestamp`/`date` anchor columns are written in, and where that came from
 * (the rule's `anchorZone`, its store's, or the config's `timezone` as the default).
 */
export interface AnchorZone {
  name: string;
  from: 'rule' | 'store' | 'timezone';
}

/** What a rule on a SQL table sweeps: the kind-specific part of the rule. */
export interface SqlTarget {
  /** The table swept. */
  table: TableName;
  /** Primary key column; sweeps are chunked by ranges of it. */
  key: string;
  /** Timestamp column the retention period runs from. */
  anchor: string;
  anchorZone: AnchorZone;
  where: WhereFilter[];
  /**
   * Delete rules: present (`allow`) when the rule may delete rows whose foreign keys
   * cascade into other tables (counted, limited and audited per table); absent, such a
   * rule is refused. Optional so that rules without it keep their definition hash.
   */
  cascades?: 'allow';
  /**
   * Delete rules (`cascade:` in the YAML): objects in files/S3 stores each row owns, named
   * by column templates; a deleted row's objects go with it, through the outbox. Absent
   * when the rule has none, so that rules without it keep their definition hash.
   */
  cascade?: ObjectCascade[];
  /**
   * Archive rules (`archiveTable:` in the YAML, PostgreSQL): the table expired rows are
   * moved to (same columns), where a further rule expires them. Absent for every other
   * action, so that rules without it keep their definition hash; part of the hash when set.
   */
  archiveTable?: TableName;
}

export type SqlRule = Rule<SqlTarget>;

/** `schema.name`, or `name` when unqualified: how messages and plan show a table. */
export function shownTable(table: TableName): string {
  return table.schema ? `${table.schema}.${table.name}` : table.name;
}

/**
 * A rule read as a SQL table kind's (postgres, mysql): the typed accessor for code that
 * holds a rule of any kind. Throws for a rule whose target is not a table's.
 */
export function sqlRule(rule: Rule<unknown>): SqlRule {
  const target = rule.target as Partial<SqlTarget> | null;
  if (target === null || typeof target !== 'object' || typeof target.table !== 'object' || typeof target.key !== 'string' || typeof target.anchor !== 'string') {
    throw new Error(`rule ${rule.id} (store kind ${rule.kind}) does not sweep a SQL table`);
  }
  return rule as SqlRule;
}

/**
 * Where an `action: archive` rule moves its rows, as `schema.table` (or `table`) the rule
 * wrote it; null for any other rule (of any kind): what `plan` names beside the count.
 */
export function archiveTableOf(rule: Rule<unknown>): string | null {
  if (rule.action !== 'archive') return null;
  const target = rule.target as Partial<SqlTarget> | null;
  return target?.archiveTable ? shownTable(target.archiveTable) : null;
}
