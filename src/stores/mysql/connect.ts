import mysql from 'mysql2/promise';
import { UserError } from '../../errors.js';
import { redactText, redactUrl } from '../../redact.js';
import type { Fragment } from './mysql-sql.js';

/**
 * Session limits every connection gets, so no statement of ours holds locks for long: a
 * batch that meets a row lock gives up after INNODB_LOCK_WAIT_S (error 1205, retried by
 * the executor with backoff) rather than queueing the application's writes behind it, a
 * metadata lock after LOCK_WAIT_S, and any statement is stopped after STATEMENT_S.
 */
export const INNODB_LOCK_WAIT_S = 2;
export const LOCK_WAIT_S = 5;
export const STATEMENT_S = 300;
const CONNECT_TIMEOUT_MS = 5_000;

/** Runs fragments: what statement code needs of a pool or of one connection in a transaction. */
export interface Runner {
  rows<R>(statement: Fragment): Promise<R[]>;
  /** Rows changed (DELETE/UPDATE: matched rows, see `foundRows`). */
  run(statement: Fragment): Promise<number>;
}

export interface MysqlDatabase extends Runner {
  readonly url: string;
  readonly origin: string;
  /** One transaction on one connection, always released; rolled back on error. */
  transaction<T>(work: (tx: Runner) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  end(): Promise<void>;
}

/**
 * The connection options of a `mysql://` / `mariadb://` URL: host, port, user, password,
 * database. Read here rather than handed to mysql2, which would take any query parameter
 * as a driver option (`?multipleStatements=true`); the config refuses query parameters.
 */
export function connectionOptions(url: string): mysql.PoolOptions {
  const parsed = new URL(url);
  const host = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  return {
    host: decodeURIComponent(host) || 'localhost',
    port: parsed.port ? Number(parsed.port) : 3306,
    user: decodeURIComponent(parsed.username) || undefined,
    password: decodeURIComponent(parsed.password) || undefined,
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
  };
}

export function createMysqlDatabase(url: string, origin: string): MysqlDatabase {
  const pool = mysql.createPool({
    ...connectionOptions(url),
    connectionLimit: 4,
    connectTimeout: CONNECT_TIMEOUT_MS,
    // Values come back as text exactly as stored: keys beyond 2^53, DECIMALs, DATETIMEs
    // (a wall-clock reading is not an instant) are never rounded or shifted by the driver.
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    multipleStatements: false,
    charset: 'utf8mb4_general_ci',
    // Affected rows of an UPDATE count the rows it matched, like PostgreSQL's row count.
    flags: ['FOUND_ROWS'],
    // Statements are few and reused (values are bound); the server's own limit is global.
    maxPreparedStatements: 64,
  });
  const prepared = new WeakSet<object>();
  const session = async (connection: mysql.PoolConnection): Promise<void> => {
    if (prepared.has(connection.connection)) return;
    const [version] = await connection.query<mysql.RowDataPacket[]>('SELECT VERSION() AS v');
    const mariadb = /mariadb/i.test(String(version[0]?.v ?? ''));
    // TIMESTAMP columns read and compare as UTC instants; writes that do not fit fail.
    await connection.query(
      `SET SESSION time_zone = '+00:00', sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',STRICT_ALL_TABLES')),
               lock_wait_timeout = ${LOCK_WAIT_S}, innodb_lock_wait_timeout = ${INNODB_LOCK_WAIT_S},
               ${mariadb ? `max_statement_time = ${STATEMENT_S}` : `max_execution_time = ${STATEMENT_S * 1000}`}`,
    );
    prepared.add(connection.connection);
  };
  const runner = (connection: mysql.PoolConnection): Runner => ({
    async rows<R>(statement: Fragment): Promise<R[]> {
      const [rows] = await connection.execute<mysql.RowDataPacket[]>(statement.text, statement.values as never[]);
      return rows as unknown as R[];
    },
    async run(statement: Fragment): Promise<number> {
      const [result] = await connection.execute<mysql.ResultSetHeader>(statement.text, statement.values as never[]);
      return result.affectedRows;
    },
  });
  const withConnection = async <T>(work: (connection: mysql.PoolConnection) => Promise<T>): Promise<T> => {
    const connection = await pool.getConnection();
    try {
      await session(connection);
      return await work(connection);
    } finally {
      connection.release();
    }
  };
  return {
    url,
    origin,
    rows: (statement) => withConnection((c) => runner(c).rows(statement)),
    run: (statement) => withConnection((c) => runner(c).run(statement)),
    transaction: (work) =>
      withConnection(async (connection) => {
        await connection.query('START TRANSACTION');
        try {
          const result = await work(runner(connection));
          await connection.query('COMMIT');
          return result;
        } catch (error) {
          await connection.query('ROLLBACK').catch(() => undefined);
          throw error;
        }
      }),
    async ping() {
      try {
        await withConnection((c) => c.query('SELECT 1'));
      } catch (error) {
        throw connectionError(url, origin, error);
      }
    },
    end: () => pool.end(),
  };
}

function connectionError(url: string, origin: string, error: unknown): UserError {
  const reason = (error as Error).message || ((error as { code?: string }).code ?? 'unknown error');
  return new UserError(`cannot connect to MySQL/MariaDB at ${redactUrl(url)} (${origin}): ${redactText(reason)}`, { cause: error });
}
