import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { auditOf, plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/**
 * Between planning and a batch running, the application may touch a row: renew it (its
 * anchor moves to now) or put it on hold. The batch re-checks the rule's predicate inside
 * its own DELETE or UPDATE, so such a row is left alone.
 */
describe('a row changed since the sweep was planned', () => {
  it('survives its batch when its anchor moved to now', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.accounts (id serial PRIMARY KEY, last_seen timestamptz, hold boolean)`);
    await env.sql(`INSERT INTO ${env.schema}.accounts (last_seen) SELECT now() - interval '400 days' FROM generate_series(1, 150)`);
    const config = env.config([{ id: 'accounts', table: 'accounts', anchor: 'last_seen', retain: 'P1Y', action: 'delete', where: { hold: { not: true } }, batchSize: 100, limits: { maxFraction: 1 } }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);

    // Renewed after planning (sweep.now is in the past by now, so now() is after it too).
    await env.sql(`UPDATE ${env.schema}.accounts SET last_seen = now() WHERE id IN (7, 120)`);
    // Put on hold after planning.
    await env.sql(`UPDATE ${env.schema}.accounts SET hold = true WHERE id IN (8, 121)`);

    let deleted = 0;
    for (let idx = 0; idx < sweep.batchesTotal; idx++) deleted += (await executeBatch(runtime, sweep.id, idx)).rows;
    expect(deleted).toBe(146);

    const left = await env.sql<{ id: number }>(`SELECT id FROM ${env.schema}.accounts ORDER BY id`);
    expect(left.map((r) => r.id)).toEqual([7, 8, 120, 121]);
    const batches = (await auditOf(env, sweep.id)).filter((e) => e.event === 'batch');
    expect(batches.reduce((sum, e) => sum + e.rows, 0)).toBe(146);
  });

  it('is not anonymized when its anchor moved to now', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.orders (id serial PRIMARY KEY, at timestamptz, email text)`);
    await env.sql(`INSERT INTO ${env.schema}.orders (at, email) SELECT now() - interval '400 days', 'buyer' || g || '@example.com' FROM generate_series(1, 5) g`);
    const config = env.config([{ id: 'orders', table: 'orders', anchor: 'at', retain: 'P1Y', action: 'anonymize', anonymize: { email: 'redact' }, batchSize: 100, limits: { maxFraction: 1 } }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    await env.sql(`UPDATE ${env.schema}.orders SET at = now() WHERE id = 3`);

    // Its one batch: the sweep is done (`finished`, for next-expiry scheduling).
    expect(await executeBatch(runtime, sweep.id, 0)).toEqual({ rows: 4, skipped: false, finished: true });
    const rows = await env.sql<{ id: number; email: string }>(`SELECT id, email FROM ${env.schema}.orders ORDER BY id`);
    expect(rows.map((r) => r.email)).toEqual(['[redacted]', '[redacted]', 'buyer3@example.com', '[redacted]', '[redacted]']);
  });
});
