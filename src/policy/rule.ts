import type { TableName } from '../stores/postgres/sql.js';

/** A structured row filter from a rule's `where`. Values always travel as bind parameters. */
export type WhereFilter =
  | { column: string; op: 'eq'; value: string | number | boolean }
  | { column: string; op: 'not-eq'; value: string | number | boolean }
  | { column: string; op: 'is-null' }
  | { column: string; op: 'not-null' };

/** When a rule's sweep runs on its own. */
export type Schedule =
  | { kind: 'every'; iso: string; ms: number }
  | { kind: 'cron'; pattern: string }
  | { kind: 'manual' };

export type Action = 'delete' | 'anonymize';

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
  /** Timestamp column the retention period runs from (Redis: hash field holding epoch milliseconds). */
  anchor: string;
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
  /** IANA zone for calendar arithmetic. */
  timezone: string;
  limits: Limits;
}

/** How much one sweep may change before it needs a confirmation. */
export interface Limits {
  /** Rows; null = no row limit. */
  maxRowsPerRun: number | null;
  /** Fraction of the table's rows, 0 < f <= 1. */
  maxFraction: number;
}
