import type { MysqlTable } from './catalog.js';

/**
 * Errors one row's data can cause, by MySQL/MariaDB error number: the row's change is
 * refused, the statement rolled back, and the row can be isolated. Lock waits (1205) and
 * deadlocks (1213) are not here: they are transient, thrown for the queue to retry.
 */
const ROW_ERRORS = new Map<number, string>([
  [1062, 'a unique key already holds the new value'],
  [1586, 'a unique key already holds the new value'],
  [3819, 'a CHECK constraint refuses the row'],
  [4025, 'a CHECK constraint refuses the row'],
  [1644, 'a trigger or procedure refuses the row (SIGNAL)'],
  [1451, 'a foreign key still references the row'],
  [1217, 'a foreign key still references the row'],
  [1452, 'a foreign key references no row'],
  [1216, 'a foreign key references no row'],
  [1048, 'a NOT NULL column would be NULL'],
  [1264, 'a value is out of its column\'s range'],
  [1690, 'a value is out of its type\'s range'],
  [1265, 'a value is truncated for its column'],
  [1406, 'a value is too long for its column'],
  [1292, 'a value cannot be read as its type'],
  [1366, 'a value is incorrect for its column'],
  [1367, 'a value is illegal for its column'],
  [1411, 'a value is incorrect for a function'],
  [1441, 'a date/time value overflows'],
]);

interface MysqlError {
  errno?: unknown;
  code?: unknown;
  sqlState?: unknown;
  message?: unknown;
}

export function isRowError(error: unknown): boolean {
  const errno = (error as MysqlError | null)?.errno;
  return typeof errno === 'number' && ROW_ERRORS.has(errno);
}

/**
 * Why a row failed, fit to be recorded: what the error number means, its code and
 * SQLSTATE, and the catalog names (table, column, key, constraint) the server's message
 * mentions. The message itself is never copied: it quotes values (`Duplicate entry
 * 'ada@example.com' for key 'email'`, `Incorrect integer value: '...'`) without escaping
 * their quotes, and a SIGNAL's text is whatever the trigger put in it, row values included.
 */
export function rowErrorReason(error: unknown, names: ReadonlySet<string>): string {
  const e = (error ?? {}) as MysqlError;
  const errno = typeof e.errno === 'number' ? e.errno : null;
  const what = (errno !== null ? ROW_ERRORS.get(errno) : undefined) ?? 'the server refuses the row';
  // The driver's code name is left out: it maps numbers by MySQL's list, and MariaDB's 4025
  // (a CHECK constraint) is MySQL's ER_INNODB_AUTOEXTEND_SIZE_OUT_OF_RANGE.
  const code = [errno !== null ? `error ${errno}` : null, typeof e.sqlState === 'string' ? `SQLSTATE ${e.sqlState}` : null].filter((p) => p !== null).join(', ');
  const message = typeof e.message === 'string' ? e.message : '';
  const mentioned = new Set<string>();
  // A CHECK constraint's name is not in the catalog we read; its two messages are fixed
  // templates that quote no value (MariaDB 4025, MySQL 3819), so the name is taken from them.
  const check = /^CONSTRAINT `((?:[^`]|``)+)` failed for /.exec(message) ?? /^Check constraint '(.+)' is violated\.$/.exec(message);
  if ((errno === 4025 || errno === 3819) && check) mentioned.add(check[1]!.replaceAll('``', '`'));
  for (const [, inner] of message.matchAll(/[`'"]([^`'"]+)[`'"]/g)) {
    for (const part of [inner!, ...inner!.split('.')]) if (names.has(part)) mentioned.add(part);
  }
  const shown = [...mentioned].map((n) => `\`${n}\``).join(', ');
  return `${what}${shown ? ` (${shown})` : ''}${code ? ` [${code}]` : ''}`;
}

/** The names of a table's catalog, which a reason may show. */
export function catalogNames(table: MysqlTable): Set<string> {
  const names = new Set<string>([table.resolvedName, table.database, table.resolvedName.slice(table.database.length + 1), ...table.columns.keys()]);
  for (const index of table.uniqueIndexes) names.add(index.name);
  for (const fk of [...table.references, ...table.referencedBy]) {
    names.add(fk.name);
    for (const name of [fk.referencing, fk.referenced]) [name, ...name.split('.')].forEach((n) => names.add(n));
  }
  return names;
}
