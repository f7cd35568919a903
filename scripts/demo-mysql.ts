import mysql from 'mysql2/promise';
import { connectionOptions } from '../src/stores/mysql/connect.js';
import { seededRandom, type DemoObjects, type ObjectSurvey } from './demo-stores.js';

/**
 * Udesk's customer-service conversations in MariaDB/MySQL: the demo's table on a `mysql`
 * store, in a database of its own (`retention_demo` by default), which the demo drops and
 * rebuilds. Read back by the demo's own SELECT, as the other stores are.
 */

/** Conversations; 1 in 8 belongs to a contact who asked to be deleted (the rest: NULL anchor, never due). */
export const CONVERSATIONS = 4_000;
const HISTORY_MS = 2 * 365 * 86_400_000;
const ROWS_PER_INSERT = 500;

/** The table, in the current database (its anchor a TIMESTAMP: an instant). */
export const CREATE_CONVERSATIONS = `CREATE TABLE udesk_conversations (
  id                     BIGINT AUTO_INCREMENT PRIMARY KEY,
  contact_email          VARCHAR(255) NOT NULL,
  channel                VARCHAR(16) NOT NULL,
  transcript             TEXT NOT NULL,
  started_at             TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  deletion_requested_at  TIMESTAMP NULL DEFAULT NULL
)`;

/** The database a `mysql://` URL names, or null. */
export function databaseOf(url: string): string | null {
  return (connectionOptions(url).database as string | undefined) ?? null;
}

/** Why the demo will not drop and rebuild the URL's database, or null when it is its own. */
export function mysqlDatabaseProblem(url: string): string | null {
  const database = databaseOf(url);
  if (!database || !/^retention_demo[A-Za-z0-9_]*$/.test(database)) {
    return `the MySQL store's database is ${database ?? '(none)'}; the demo drops and rebuilds it, so it must be named retention_demo... (set MYSQL_URL, e.g. mysql://root@127.0.0.1:3306/retention_demo_alice)`;
  }
  return null;
}

/** A connection to the server of `url`, without selecting its database, at UTC. */
export async function connectMysql(url: string): Promise<mysql.Connection> {
  const { database: _database, ...server } = connectionOptions(url);
  const connection = await mysql.createConnection({ ...server, dateStrings: true, supportBigNumbers: true, bigNumberStrings: true, connectTimeout: 5_000 });
  await connection.query(`SET time_zone = '+00:00'`);
  return connection;
}

export function udeskConversations(ruleId: string, connection: mysql.Connection, database: string): DemoObjects {
  const table = `${mysql.escapeId(database)}.udesk_conversations`;
  return {
    ruleId,
    counted: `rows of ${database}.udesk_conversations with a request`,
    unjudgedAre: 'rows without a deletion request (NULL anchor)',
    outsideAre: 'none (no filter)',
    async build(nowMs) {
      await connection.query(`DROP DATABASE IF EXISTS ${mysql.escapeId(database)}`);
      await connection.query(`CREATE DATABASE ${mysql.escapeId(database)}`);
      await connection.query(`USE ${mysql.escapeId(database)}`);
      await connection.query(CREATE_CONVERSATIONS);
      const random = seededRandom(13);
      const seconds = (ms: number) => Math.floor(ms / 1000);
      for (let first = 1; first <= CONVERSATIONS; first += ROWS_PER_INSERT) {
        const values: unknown[] = [];
        const rows: string[] = [];
        for (let g = first; g < Math.min(first + ROWS_PER_INSERT, CONVERSATIONS + 1); g++) {
          const started = nowMs - random() * HISTORY_MS;
          // The request comes after the conversation, at some time up to now.
          const requested = g % 8 === 0 ? started + random() * (nowMs - started) : null;
          rows.push('(?, ?, ?, FROM_UNIXTIME(?), FROM_UNIXTIME(?))');
          values.push(`contact${g % 700}@example.org`, ['chat', 'email', 'phone'][g % 3], `demo transcript ${g}, no real conversation`, seconds(started), requested === null ? null : seconds(requested));
        }
        await connection.query(`INSERT INTO ${table} (contact_email, channel, transcript, started_at, deletion_requested_at) VALUES ${rows.join(', ')}`, values);
      }
    },
    async survey() {
      const [rows] = await connection.query(`SELECT UNIX_TIMESTAMP(deletion_requested_at) AS s FROM ${table}`);
      const out: ObjectSurvey = { anchors: [], unjudged: 0, outside: 0 };
      for (const { s } of rows as { s: string | null }[]) {
        if (s === null) out.unjudged += 1;
        else out.anchors.push(new Date(Number(s) * 1000).toISOString());
      }
      return out;
    },
  };
}
