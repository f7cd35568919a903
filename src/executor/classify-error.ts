/**
 * What kind of failure an error is. The first four are worth retrying (the operation may
 * well succeed later); the others are not:
 * - `connection`: the server went away or could not be reached;
 * - `lock`: a lock wait timed out, a deadlock, a serialization failure;
 * - `timeout`: a statement ran past its time limit, a connection attempt timed out;
 * - `busy`: the server answered that it is busy, starting or out of connections;
 * - `refused`: a job this process will not run (its rule is not the config's, its trigger
 *   is not recorded); audited, never retried;
 * - `permanent`: anything else (a missing table, a type error), a configuration problem
 *   that retrying repeats.
 * The worker counts failures by kind (src/metrics/).
 */
export type ErrorKind = 'connection' | 'lock' | 'timeout' | 'busy' | 'refused' | 'permanent';

export const ERROR_KINDS: readonly ErrorKind[] = ['connection', 'lock', 'timeout', 'busy', 'refused', 'permanent'];

const TRANSIENT_KINDS: ReadonlySet<ErrorKind> = new Set(['connection', 'lock', 'timeout', 'busy']);

/**
 * PostgreSQL error codes worth retrying, by kind (class 08, connection exceptions, is
 * `connection` as a whole).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const TRANSIENT_SQLSTATES: ReadonlyMap<string, ErrorKind> = new Map([
  ['40001', 'lock'], // serialization_failure
  ['40P01', 'lock'], // deadlock_detected
  ['55P03', 'lock'], // lock_not_available (our lock_timeout)
  ['57014', 'timeout'], // query_canceled (statement_timeout)
  ['57P01', 'connection'], // admin_shutdown
  ['57P02', 'connection'], // crash_shutdown
  ['57P03', 'busy'], // cannot_connect_now (starting up)
  ['53300', 'busy'], // too_many_connections
]);

// EAGAIN ("try again"): a store's server answered that it is busy or failing (an S3 5xx or SlowDown).
const TRANSIENT_NODE_CODES: ReadonlyMap<string, ErrorKind> = new Map([
  ['ECONNREFUSED', 'connection'],
  ['ECONNRESET', 'connection'],
  ['EPIPE', 'connection'],
  ['ENOTFOUND', 'connection'],
  ['EAI_AGAIN', 'connection'],
  ['ETIMEDOUT', 'timeout'],
  ['EAGAIN', 'busy'],
]);

/**
 * MySQL/MariaDB errors worth retrying, by mysql2's `code` (the server's error name):
 * locks (our innodb_lock_wait_timeout / lock_wait_timeout), deadlocks, our statement
 * time limit, a server going away or out of connections.
 */
const TRANSIENT_MYSQL_CODES: ReadonlyMap<string, ErrorKind> = new Map([
  ['ER_LOCK_DEADLOCK', 'lock'], // 1213
  ['ER_LOCK_WAIT_TIMEOUT', 'lock'], // 1205: innodb_lock_wait_timeout, and lock_wait_timeout (metadata locks)
  ['ER_STATEMENT_TIMEOUT', 'timeout'], // 1969 MariaDB max_statement_time
  ['ER_QUERY_TIMEOUT', 'timeout'], // 3024 MySQL max_execution_time
  ['ER_QUERY_INTERRUPTED', 'timeout'], // 1317
  ['ER_CON_COUNT_ERROR', 'busy'], // 1040 too many connections
  ['ER_SERVER_SHUTDOWN', 'connection'], // 1053
  ['ER_CONNECTION_KILLED', 'connection'], // 1927 MariaDB
  ['ER_CLIENT_INTERACTION_TIMEOUT', 'timeout'], // 4031 MySQL
  ['PROTOCOL_CONNECTION_LOST', 'connection'], // mysql2: the server closed the connection
  ['PROTOCOL_SEQUENCE_TIMEOUT', 'timeout'],
]);

/**
 * What kind of failure `error` is. A refused job is told by its message: the queue passes
 * a non-retryable error on as BullMQ's UnrecoverableError with the message only.
 */
export function errorKind(error: unknown): ErrorKind {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const kind = TRANSIENT_SQLSTATES.get(code) ?? TRANSIENT_NODE_CODES.get(code) ?? TRANSIENT_MYSQL_CODES.get(code);
    if (kind) return kind;
    if (code.startsWith('08')) return 'connection'; // 08: connection exceptions
  }
  const message = (error as Error | null)?.message ?? '';
  // node-postgres reports a dropped connection without a code.
  if (/Connection terminated|Client has encountered a connection error/i.test(message)) return 'connection';
  if (/connection timeout|timeout exceeded when trying to connect/i.test(message)) return 'timeout';
  if ((error as Error | null)?.name === 'RefusedJobError' || message.startsWith('refused job ')) return 'refused';
  return 'permanent';
}

/** Worth retrying: the statement may well succeed later. */
export function isTransient(error: unknown): boolean {
  return TRANSIENT_KINDS.has(errorKind(error));
}
