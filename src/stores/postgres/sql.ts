import pg from 'pg';
import type { TableName } from '../sql/sql-target.js';

/** A SQL statement as text plus bind values; built by pure functions, run by a store. */
export interface Statement {
  text: string;
  values: unknown[];
}

/** Quotes one identifier (`"login_logs"`); config names never reach SQL unquoted. */
export function ident(name: string): string {
  return pg.escapeIdentifier(name);
}

/** Quotes a possibly schema-qualified name: `audit.login_logs` -> `"audit"."login_logs"`. */
export function qualified(table: TableName): string {
  return table.schema === null ? ident(table.name) : `${ident(table.schema)}.${ident(table.name)}`;
}

export type { TableName } from '../sql/sql-target.js';

/**
 * Collects bind values while a statement is built, handing out `$1`, `$2`, ... so that no
 * value from config or from a job payload is ever spliced into SQL text.
 */
export class Params {
  readonly values: unknown[] = [];

  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}
