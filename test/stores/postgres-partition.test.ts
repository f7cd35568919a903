import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqlRule, type SqlRule } from '../../src/stores/sql/sql-target.js';
import { expired } from '../../src/stores/selection.js';
import { createDatabase, type Database } from '../../src/stores/postgres/connect.js';
import { denseKeyRanges } from '../../src/stores/postgres/key-ranges.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import type { KeyRange } from '../../src/stores/store.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let db: Database;
beforeEach(async () => {
  env = await createTestEnv();
  db = createDatabase(DATABASE_URL, { origin: 'test' });
});
afterEach(async () => {
  await db.pool.end();
  await env.cleanup();
});

const BATCH = 100;

function rule(table: string): SqlRule {
  return sqlRule(env.config([{ id: 'logs', table, anchor: 'at', retain: 'P1D', action: 'delete', batchSize: BATCH }]).rules[0]!);
}

/** Partitioning covers the whole key space whatever the selection. */
const EVERYTHING = expired([{ from: null, to: Date.now() }]);

/** Rows in each range, checking that together they cover the table exactly once. */
async function rowsPerRange(table: string, ranges: KeyRange[]): Promise<number[]> {
  const counts: number[] = [];
  for (const { after, upTo } of ranges) {
    const rows = await env.sql<{ n: string }>(
      `SELECT count(*) AS n FROM ${env.schema}.${table} WHERE ($1::bigint IS NULL OR id > $1) AND ($2::bigint IS NULL OR id <= $2)`,
      [after, upTo],
    );
    counts.push(Number(rows[0]!.n));
  }
  const total = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.${table}`);
  expect(counts.reduce((a, b) => a + b, 0)).toBe(Number(total[0]!.n));
  expect(ranges[0]!.after).toBeNull();
  expect(ranges[ranges.length - 1]!.upTo).toBeNull();
  ranges.slice(1).forEach((range, i) => expect(range.after).toBe(ranges[i]!.upTo));
  return counts;
}

async function table(name: string, ids: string): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.${name} (id bigint PRIMARY KEY, at timestamptz)`);
  await env.sql(`INSERT INTO ${env.schema}.${name} (id, at) SELECT g, now() FROM ${ids} g`);
}

describe('partitioning a table into batches', () => {
  it('splits dense integer keys by arithmetic into the ranges walking the index gives', async () => {
    await table('logs', 'generate_series(1, 1050)');
    await env.sql(`ANALYZE ${env.schema}.logs`);
    const ranges = await new PostgresStore('app', db).partition(rule('logs'), EVERYTHING);
    expect(ranges).toEqual([
      { after: null, upTo: '100' },
      ...Array.from({ length: 9 }, (_, i) => ({ after: String(100 * (i + 1)), upTo: String(100 * (i + 2)) })),
      { after: '1000', upTo: null },
    ]);
    expect(await rowsPerRange('logs', ranges)).toEqual([...Array<number>(10).fill(100), 50]);
  });

  it('never puts more than batchSize rows in a batch when keys have gaps', async () => {
    // Every third key missing, and a hole: arithmetic ranges, some short, none long.
    await table('gappy', "(SELECT g FROM generate_series(500, 2400) g WHERE g % 3 <> 0 AND g NOT BETWEEN 900 AND 1100)");
    await env.sql(`ANALYZE ${env.schema}.gappy`);
    const ranges = await new PostgresStore('app', db).partition(rule('gappy'), EVERYTHING);
    const counts = await rowsPerRange('gappy', ranges);
    expect(Math.max(...counts)).toBeLessThanOrEqual(BATCH);
    expect(ranges.length).toBeLessThanOrEqual(2 * Math.ceil(counts.reduce((a, b) => a + b, 0) / BATCH) + 1);
  });

  it('walks the index for sparse keys, and for a table never analyzed', async () => {
    await table('sparse', 'generate_series(1000, 1000000, 1000)');
    await env.sql(`ANALYZE ${env.schema}.sparse`);
    const sparse = await new PostgresStore('app', db).partition(rule('sparse'), EVERYTHING);
    expect(await rowsPerRange('sparse', sparse)).toEqual([...Array<number>(10).fill(100), 0]);

    await table('fresh', 'generate_series(1, 250)');
    const fresh = await new PostgresStore('app', db).partition(rule('fresh'), EVERYTHING);
    expect(await rowsPerRange('fresh', fresh)).toEqual([100, 100, 50]);
  });

  it('gives one open batch for an empty table', () => {
    expect(denseKeyRanges(null, 0, BATCH)).toEqual([{ after: null, upTo: null }]);
  });

  it('handles keys beyond 2^53 exactly', () => {
    const lo = '9007199254740993';
    const ranges = denseKeyRanges({ lo, hi: '9007199254741192' }, 200, BATCH);
    expect(ranges).toEqual([
      { after: null, upTo: '9007199254741092' },
      { after: '9007199254741092', upTo: '9007199254741192' },
      { after: '9007199254741192', upTo: null },
    ]);
  });
});
