import type { Params } from '../stores/postgres/sql.js';

/** What `check` learns about a column from the database catalog. */
export interface ColumnInfo {
  name: string;
  /** `format_type` output, e.g. `character varying(255)`, `timestamp with time zone`. */
  type: string;
  /** Base type name from pg_type, e.g. `varchar`, `timestamptz`, `inet`. */
  baseType: string;
  nullable: boolean;
  /** Declared character length for varchar(n)/char(n), else null. */
  maxLength: number | null;
}

/** Inputs a strategy may need at run time; never part of a job payload. */
export interface AnonymizeContext {
  /** Key for `hmac`, from $RETENTION_HMAC_KEY. */
  hmacKey: Buffer | null;
  /** The rule's time zone, for calendar truncation. */
  timezone: string;
}

/**
 * One way to overwrite a column irreversibly. Adding a strategy is one file plus one line
 * in `registry.ts`.
 */
export interface AnonymizeStrategy {
  readonly name: string;
  /** One line for `check` and the README. */
  readonly description: string;
  /** Why this strategy cannot write to the column, or undefined when it can. */
  problemWith(column: ColumnInfo): string | undefined;
  /** SQL expression for the column's new value. */
  assign(column: ColumnRef, params: Params, context: AnonymizeContext): string;
  /**
   * SQL condition that is true while the column still holds a value this strategy would
   * change. A row none of whose columns is pending is done and is not touched again.
   */
  pending(column: ColumnRef, params: Params, context: AnonymizeContext): string;
}

/** A column as statement builders see it: quoted SQL plus its catalog type. */
export interface ColumnRef {
  /** Already quoted, e.g. `"email"`. */
  sql: string;
  info: ColumnInfo;
}

export const TEXT_TYPES = new Set(['text', 'varchar', 'bpchar', 'citext']);
