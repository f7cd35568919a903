import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { auditOf } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/** A digest of every row, to prove a table is byte-for-byte unchanged. */
async function digest(table: string): Promise<{ n: number; md5: string }> {
  const [row] = await env.sql<{ n: string; md5: string }>(
    `SELECT count(*) AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) AS md5 FROM ${env.schema}.${table} t`,
  );
  return { n: Number(row!.n), md5: row!.md5 };
}

describe('a dry run', () => {
  it('deletes nothing, counts what a real run deletes, and is audited as a dry run', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - make_interval(days => CASE WHEN g % 3 = 0 THEN 5 ELSE 60 END) FROM generate_series(1, 300) g`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100, limits: { maxFraction: 1 } }]);
    const before = await digest('logs');

    const [dry] = await env.run(config, { dryRun: true });
    expect(await digest('logs')).toEqual(before);
    expect(dry!.sweep).toMatchObject({ dryRun: true, status: 'done', rowsAffected: 200 });
    expect(dry!.sweep.batchesDone).toBe(dry!.sweep.batchesTotal);

    const entries = await auditOf(env, dry!.sweep.id);
    // One entry per batch that counted rows (the open range after the last id counts none,
    // and writes none), then the closing entry, which counts every batch.
    const batchEntries = entries.filter((e) => e.event === 'batch');
    expect(entries.map((e) => e.event)).toEqual([...Array<string>(batchEntries.length).fill('batch'), 'sweep-finished']);
    expect(batchEntries.every((e) => e.rows > 0)).toBe(true);
    expect(entries.at(-1)).toMatchObject({ batches: { total: dry!.sweep.batchesTotal, empty: dry!.sweep.batchesTotal - batchEntries.length } });
    expect(entries.every((e) => e.dryRun === true)).toBe(true);
    expect(entries.filter((e) => e.event === 'batch').reduce((sum, e) => sum + e.rows, 0)).toBe(200);
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);

    // What the dry run counted is what a real run then deletes.
    const [real] = await env.run(config);
    expect(real!.sweep.dryRun).toBe(false);
    expect(real!.sweep.rowsAffected).toBe(200);
    expect((await digest('logs')).n).toBe(100);
    expect((await auditOf(env, real!.sweep.id)).every((e) => e.dryRun === false)).toBe(true);
  });

  it('anonymizes nothing, and counts the rows it would change', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id serial PRIMARY KEY, at timestamptz, email text, ip inet)`);
    await env.sql(
      `INSERT INTO ${env.schema}.users (at, email, ip)
       SELECT now() - make_interval(days => CASE WHEN g <= 40 THEN 400 ELSE 1 END), 'u' || g || '@example.com', ('203.0.113.' || g)::inet
         FROM generate_series(1, 60) g`,
    );
    const config = env.config([{ id: 'users', table: 'users', anchor: 'at', retain: 'P1Y', action: 'anonymize', anonymize: { email: 'hmac', ip: 'truncate-ip' }, batchSize: 100, limits: { maxFraction: 1 } }]);
    const before = await digest('users');

    const [dry] = await env.run(config, { dryRun: true });
    expect(await digest('users')).toEqual(before);
    expect(dry!.sweep).toMatchObject({ dryRun: true, rowsAffected: 40 });
    expect((await auditOf(env, dry!.sweep.id)).every((e) => e.dryRun === true)).toBe(true);
  });
});
