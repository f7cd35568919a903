import type pg from 'pg';
import type { KeyRange } from '../store.js';
import { changeIsolatingRows as isolate, type IsolatedResult, type RangeWork } from '../sql/isolate-failing-rows.js';

export { MAX_SKIPPED_ROWS_PER_BATCH, TooManyFailingRowsError, type Changed, type IsolatedResult, type RangeWork } from '../sql/isolate-failing-rows.js';

/**
 * Errors that one row's data can cause (SQLSTATE class 22, data exception, and 23,
 * integrity constraint violation: a foreign key still pointing at the row, a unique value
 * taken, a date out of range). Anything else (a lost connection, a lock timeout, a missing
 * column) is not the row's doing; it aborts the batch so the queue retries or fails it.
 */
export function isRowError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23'));
}

/**
 * Changes one batch's range so that rows the statement fails on do not hold back the rest
 * (see the shared `changeIsolatingRows`), with PostgreSQL's savepoints and row errors.
 * `client` must be in a transaction.
 */
export function changeIsolatingRows(
  client: pg.ClientBase,
  range: KeyRange,
  work: RangeWork,
  describe: (error: unknown) => string,
): Promise<IsolatedResult> {
  return isolate({ run: (text) => client.query(text), isRowError }, range, work, describe);
}

/**
 * Why a row failed, fit to be recorded: PostgreSQL's message and SQLSTATE, without the
 * DETAIL (which repeats the row's values: `Key (email)=(ada@example.com) ...`) and with
 * every quoted value that is not a known name (table, column, constraint, type) hidden,
 * since messages such as `invalid input syntax for type integer: "..."` quote data.
 */
export function rowErrorReason(error: unknown, names: ReadonlySet<string>): string {
  const e = error as { message?: unknown; code?: unknown; table?: unknown; constraint?: unknown; column?: unknown; schema?: unknown; dataType?: unknown };
  const known = new Set(names);
  for (const field of [e.table, e.constraint, e.column, e.schema, e.dataType]) if (typeof field === 'string') known.add(field);
  const message = typeof e.message === 'string' ? e.message : String(error);
  const shown = message.replace(/"((?:[^"]|"")*)"/g, (quoted: string, inner: string) => (known.has(inner.replaceAll('""', '"')) ? quoted : '"..."'));
  return typeof e.code === 'string' ? `${shown} (SQLSTATE ${e.code})` : shown;
}
