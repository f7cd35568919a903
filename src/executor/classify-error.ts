/**
 * PostgreSQL error classes worth retrying: the statement may well succeed later. Anything
 * else (a missing table, a type error) is a configuration problem that retrying repeats.
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const TRANSIENT_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available (our lock_timeout)
  '57014', // query_canceled (statement_timeout)
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up)
  '53300', // too_many_connections
]);

// EAGAIN ("try again"): a store's server answered that it is busy or failing (an S3 5xx or SlowDown).
const TRANSIENT_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EAGAIN']);

/**
 * MySQL/MariaDB errors worth retrying, by mysql2's `code` (the server's error name):
 * locks (our innodb_lock_wait_timeout / lock_wait_timeout), deadlocks, our statement
 * time limit, a server going away or out of connections.
 */
const TRANSIENT_MYSQL_CODES = new Set([
  'ER_LOCK_DEADLOCK', // 1213
  'ER_LOCK_WAIT_TIMEOUT', // 1205: innodb_lock_wait_timeout, and lock_wait_timeout (metadata locks)
  'ER_STATEMENT_TIMEOUT', // 1969 MariaDB max_statement_time
  'ER_QUERY_TIMEOUT', // 3024 MySQL max_execution_time
  'ER_QUERY_INTERRUPTED', // 1317
  'ER_CON_COUNT_ERROR', // 1040 too many connections
  'ER_SERVER_SHUTDOWN', // 1053
  'ER_CONNECTION_KILLED', // 1927 MariaDB
  'ER_CLIENT_INTERACTION_TIMEOUT', // 4031 MySQL
  'PROTOCOL_CONNECTION_LOST', // mysql2: the server closed the connection
  'PROTOCOL_SEQUENCE_TIMEOUT',
]);

export function isTransient(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (TRANSIENT_SQLSTATES.has(code) || code.startsWith('08')) return true; // 08: connection exceptions
    if (TRANSIENT_NODE_CODES.has(code) || TRANSIENT_MYSQL_CODES.has(code)) return true;
  }
  const message = (error as Error)?.message ?? '';
  // node-postgres reports a dropped connection without a code.
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}
