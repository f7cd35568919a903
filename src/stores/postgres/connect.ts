import pg from 'pg';
import { UserError } from '../../errors.js';
import { redactText, redactUrl } from '../../redact.js';

/**
 * Session limits every connection gets, so no statement of ours can hold a lock for long
 * or leave a transaction open: a batch that meets a lock gives up after LOCK_TIMEOUT and
 * is retried with backoff, rather than queueing the application's writes behind it.
 */
export const LOCK_TIMEOUT_MS = 2_000;
export const STATEMENT_TIMEOUT_MS = 300_000;
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const CONNECT_TIMEOUT_MS = 5_000;

export interface PoolOptions {
  /** Where the URL came from, for messages: "state in config/retention.yaml, from $DATABASE_URL". */
  origin: string;
  max?: number;
  applicationName?: string;
}

/** A pool plus the description used in its error messages. */
export interface Database {
  pool: pg.Pool;
  url: string;
  origin: string;
}

export function createDatabase(url: string, options: PoolOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'retention',
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    lock_timeout: LOCK_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
  });
  // An idle client that loses its server must not crash the process; the next query
  // gets a fresh connection and reports its own error.
  pool.on('error', () => undefined);
  return { pool, url, origin: options.origin };
}

/** Connects once, turning "connection refused" into a message that names the URL and its origin. */
export async function ping(db: Database): Promise<void> {
  try {
    await db.pool.query('SELECT 1');
  } catch (error) {
    throw connectionError(db, error);
  }
}

export function connectionError(db: Pick<Database, 'url' | 'origin'>, error: unknown): UserError {
  // node-postgres's message already names the code ("connect ECONNREFUSED 127.0.0.1:1").
  const reason = (error as Error).message || ((error as { code?: string }).code ?? 'unknown error');
  return new UserError(`cannot connect to PostgreSQL at ${redactUrl(db.url)} (${db.origin}): ${redactText(reason)}`, { cause: error });
}

/**
 * The isolation every transaction of ours runs at, whatever the server's or the role's
 * `default_transaction_isolation`: READ COMMITTED, where each statement sees what committed
 * before it began. Batches depend on it: a lock taken mid-transaction and the catalog read
 * after it (an archive move's columns), or a row re-checked after waiting for its lock, must
 * see the present, not a snapshot from the transaction's first statement (REPEATABLE READ,
 * SERIALIZABLE), which would let an archive move drop a column added meanwhile.
 */
export const BEGIN_READ_COMMITTED = 'BEGIN ISOLATION LEVEL READ COMMITTED';

/** Runs `work` in a READ COMMITTED transaction on one client, always releasing it. */
export async function withTransaction<T>(db: Database, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  // A checked-out client has no listener of the pool's: a server restart mid-transaction
  // would emit an unhandled 'error' and crash the process. The failing query (or the next
  // one) rejects with the same error, and release() discards the dead client.
  const onError = () => undefined;
  client.on('error', onError);
  try {
    await client.query(BEGIN_READ_COMMITTED);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.off('error', onError);
    client.release();
  }
}
