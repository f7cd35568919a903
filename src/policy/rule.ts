import type { TableName } from '../stores/postgres/sql.js';

/**
 * A `where` value exactly as written: its YAML kind and its text (a number's digits as in
 * the file, never rounded through a JavaScript number). Bound as text, so PostgreSQL reads
 * it with the column's own type; `check` refuses a kind that does not fit the column.
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

/** When a rule's sweep runs on its own. */
export type Schedule =
  | { kind: 'every'; iso: string; ms: number }
  | { kind: 'cron'; pattern: string }
  | { kind: 'manual' };

export type Action = 'delete' | 'anonymize';

/** How a Redis anchor field is written: epoch milliseconds, epoch seconds, or an ISO-8601 instant with offset. */
export type AnchorUnit = 'ms' | 's' | 'iso';

/**
 * One validated retention rule. Plain JSON, so a sweep's job payload can carry the rule it
 * was planned with (rules hold names and durations, never personal data or secrets).
 */
export interface Rule {
  id: string;
  /**
   * The definition hash (`ruleDefinitionHash`): what the rule selects and does, as
   * resolved, in which store. A sweep runs only while its rule's hash is the config's.
   */
  hash: string;
  /** Where the promise comes from, cited in every audit entry. */
  source: string | null;
  store: string;
  /** PostgreSQL: the table swept. For a Redis rule, `{ schema: null, name: keys }`, for messages only. */
  table: TableName;
  /** Redis: SCAN MATCH pattern of the keys swept; null for PostgreSQL rules. */
  keys: string | null;
  /** Primary key column; sweeps are chunked by ranges of it. */
  key: string;
  /** Timestamp column the retention period runs from (Redis: hash field holding the anchor, in `anchorUnit`). */
  anchor: string;
  /**
   * Redis: how the anchor field is written; declared, never guessed (a seconds anchor read
   * as milliseconds is in 1970, and would be deleted). Null for PostgreSQL rules.
   */
  anchorUnit: AnchorUnit | null;
  /** ISO-8601 duration. */
  retain: string;
  action: Action;
  where: WhereFilter[];
  /** Column naming the person, for subject requests and holds. */
  subject: string | null;
  schedule: Schedule;
  /** Column -> strategy name; empty for `delete`. */
  anonymize: { column: string; strategy: string }[];
  /** Rows per batch (one short transaction each). */
  batchSize: number;
  /** IANA zone for calendar arithmetic (and cron schedules): the config's `timezone`. */
  timezone: string;
  /**
   * PostgreSQL rules: the zone `timestamp`/`date` anchor columns are written in, and where
   * that came from (the rule's `anchorZone`, its store's, or the config's `timezone` as the
   * default). Null for Redis rules, whose anchors are instants.
   */
  anchorZone: { name: string; from: 'rule' | 'store' | 'timezone' } | null;
  limits: Limits;
  /**
   * PostgreSQL delete rules: present (`allow`) when the rule may delete rows whose foreign
   * keys cascade into other tables (counted, limited and audited per table); absent, such
   * a rule is refused. Optional so that rules without it keep their definition hash.
   */
  cascades?: 'allow';
}

/** How much one sweep may change before it needs a confirmation. */
export interface Limits {
  /** Rows; null = no row limit. */
  maxRowsPerRun: number | null;
  /** Fraction of the table's rows, 0 < f <= 1. */
  maxFraction: number;
}
