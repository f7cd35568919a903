import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { ident } from '../stores/postgres/sql.js';
import { connectionError, type Database } from '../stores/postgres/connect.js';
import { packageDir } from '../package-path.js';

export type StateTable =
  | 'sweeps'
  | 'batches'
  | 'triggers'
  | 'audit_log'
  | 'migrations'
  | 'holds'
  | 'requests'
  | 'request_rules'
  | 'erasure_ledger';

/** The state database and the schema our tables live in. */
export interface StateDb {
  db: Database;
  schema: string;
  /** `"retention"."audit_log"` etc., quoted. */
  table(name: StateTable): string;
  /**
   * $RETENTION_AUDIT_KEY: keys the audit chain appended here (src/audit/audit-key.ts). It
   * travels with the database handle, never into it: null when the command has none.
   */
  auditKey: Buffer | null;
}

export function stateDb(db: Database, schema: string, auditKey: Buffer | null = null): StateDb {
  return { db, schema, auditKey, table: (name) => `${ident(schema)}.${ident(name)}` };
}

/** Beside this file in the sources; beside the bundle's chunks, built (src/package-path.ts). */
const MIGRATIONS_DIR = packageDir(import.meta.url, join('src', 'state', 'migrations'));

/**
 * Applies the numbered SQL files in migrations/ that have not been applied, each in its
 * own transaction, under an advisory lock so two processes starting at once do not race.
 */
export async function migrate(state: StateDb): Promise<void> {
  let client: pg.PoolClient;
  try {
    client = await state.db.pool.connect();
  } catch (error) {
    throw connectionError(state.db, error);
  }
  // A server restart while this client is checked out must reject the query, not crash
  // the process with an unhandled 'error' event.
  const onError = () => undefined;
  client.on('error', onError);
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`retention-migrate:${state.schema}`]);
    // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even
    // when the schema exists, and a least-privilege role (docs/deployment.md) only owns its schema.
    const { rowCount } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [state.schema]);
    if (rowCount === 0) await client.query(`CREATE SCHEMA ${ident(state.schema)}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${state.table('migrations')} (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${state.table('migrations')}`);
    const applied = new Set(rows.map((r) => r.version));
    for (const file of readdirSync(MIGRATIONS_DIR).filter((f) => /^\d{6}_.*\.sql$/.test(f)).sort()) {
      const version = Number(file.slice(0, 6));
      if (applied.has(version)) continue;
      const sql = readFileSync(join(MIGRATIONS_DIR, file), 'utf8').replaceAll(':schema', ident(state.schema));
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query(`INSERT INTO ${state.table('migrations')} (version, name) VALUES ($1, $2)`, [version, file]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed`, { cause: error });
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`retention-migrate:${state.schema}`]).catch(() => undefined);
    client.off('error', onError);
    client.release();
  }
}
