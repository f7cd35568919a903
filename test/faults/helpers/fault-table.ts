import { DateTime, Duration } from 'luxon';
import type pg from 'pg';

/** The one rule every scenario sweeps: events are kept one year, held events are kept. */
export const FAULT_RULE_ID = 'events-1y';
export const FAULT_RETAIN = 'P1Y';
/** Not UTC on purpose: expiry is calendar arithmetic in the rule's zone. */
export const FAULT_TIMEZONE = 'Europe/Berlin';

/**
 * The swept table and a frozen copy of it taken before any fault. Row classes by id `g`,
 * interleaved so every batch holds all of them:
 * - g % 10 = 0: NULL anchor (never expires);
 * - otherwise even g: anchored 400-999 days ago, expired under P1Y whatever the time of
 *   the run (far from the boundary, so a slow machine cannot move a row across it);
 * - otherwise odd g: anchored 0-299 days ago, not expired;
 * - g % 7 = 0: `held`, excluded by the rule's `where: { held: false }`.
 */
export interface FaultTable {
  schema: string;
  name: string;
  /** `"schema"."events"`. */
  qualified: string;
  snapshot: string;
  rows: number;
}

export async function createFaultTable(pool: pg.Pool, schema: string, rows: number): Promise<FaultTable> {
  const table: FaultTable = {
    schema,
    name: 'events',
    qualified: `"${schema}"."events"`,
    snapshot: `"${schema}"."events_snapshot"`,
    rows,
  };
  await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
  await pool.query(
    `CREATE TABLE ${table.qualified} (id bigint PRIMARY KEY, created_at timestamptz, held boolean NOT NULL, payload text NOT NULL)`,
  );
  await pool.query(
    `INSERT INTO ${table.qualified} (id, created_at, held, payload)
     SELECT g,
            CASE WHEN g % 10 = 0 THEN NULL
                 WHEN g % 2 = 0 THEN now() - make_interval(days => 400 + g % 600, secs => g % 86400)
                 ELSE now() - make_interval(days => g % 300, secs => g % 86400) END,
            g % 7 = 0,
            md5(g::text)
       FROM generate_series(1, $1::int) AS g`,
    [rows],
  );
  await pool.query(`CREATE TABLE ${table.snapshot} AS SELECT * FROM ${table.qualified}`);
  await pool.query(`ANALYZE ${table.qualified}`);
  return table;
}

/** Expired by construction (see FaultTable): the class, not the clock, decides. */
export function expiredByConstruction(id: number): boolean {
  return id % 10 !== 0 && id % 2 === 0 && id % 7 !== 0;
}

/**
 * Ids of the snapshot rows a sweep judged at `now` must remove, computed independently of
 * the product: luxon's `plus(P1Y)` in the rule's zone, NULL anchors never, held rows never.
 */
export async function expectedExpiredIds(pool: pg.Pool, table: FaultTable, now: Date): Promise<number[]> {
  const { rows } = await pool.query<{ id: string; created_at: Date | null; held: boolean }>(
    `SELECT id, created_at, held FROM ${table.snapshot} ORDER BY id`,
  );
  const retain = Duration.fromISO(FAULT_RETAIN);
  const cutoff = now.getTime();
  return rows
    .filter((r) => !r.held && r.created_at !== null && DateTime.fromJSDate(r.created_at, { zone: FAULT_TIMEZONE }).plus(retain).toMillis() <= cutoff)
    .map((r) => Number(r.id));
}

/** Row count and md5 over every column of every row, in key order. */
export async function tableChecksum(pool: pg.Pool, from: string, exceptIds?: readonly number[]): Promise<{ rows: number; md5: string }> {
  const where = exceptIds ? 'WHERE NOT (t.id = ANY($1::bigint[]))' : '';
  const { rows } = await pool.query<{ n: string; md5: string | null }>(
    `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) AS md5 FROM ${from} AS t ${where}`,
    exceptIds ? [exceptIds] : [],
  );
  return { rows: Number(rows[0]!.n), md5: rows[0]!.md5 ?? '' };
}
