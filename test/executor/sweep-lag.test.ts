import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/**
 * A sweep records how late it was when planned: its `now` minus the end of the oldest
 * expired row still present. Its closing audit entry carries it (`lagMs`), hashed with the
 * rest of the entry; batch entries do not repeat it.
 */
describe('the lag a sweep records', () => {
  it('is in the closing entry, and the chain verifies', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    // Whole milliseconds, so that the end read back as a Date is the one the sweep used.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT date_trunc('milliseconds', now()) - d * interval '1 day' FROM unnest(ARRAY[3, 2, 0]) d`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', limits: { maxFraction: 1 } }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const [{ oldest }] = (await env.sql<{ oldest: Date }>(`SELECT min(at) + interval '1 day' AS oldest FROM ${env.schema}.logs`)) as [{ oldest: Date }];
    expect(sweep.lagMs).toBe(sweep.now.getTime() - oldest.getTime());
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);

    const entries = await env.sql<{ entry: { event: string; rows: number; lagMs?: number } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`,
      [sweep.id],
    );
    const closing = entries.map((e) => e.entry).filter((e) => e.event === 'sweep-finished');
    expect(closing).toHaveLength(1);
    expect(closing[0]).toMatchObject({ rows: 2, lagMs: sweep.lagMs });
    const batchEntries = entries.filter((e) => e.entry.event === 'batch');
    expect(batchEntries.length).toBeGreaterThan(0);
    expect(batchEntries.every((e) => e.entry.lagMs === undefined)).toBe(true);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);

    // Edited (as the tables' owner, the append-only trigger off), the lag breaks the chain like any other field.
    const log = `${env.stateSchema}.audit_log`;
    await env.sql(
      `DO $$ BEGIN
         EXECUTE 'ALTER TABLE ${log} DISABLE TRIGGER USER';
         UPDATE ${log} SET entry = jsonb_set(entry, '{lagMs}', '0') WHERE entry->>'event' = 'sweep-finished';
         EXECUTE 'ALTER TABLE ${log} ENABLE TRIGGER USER';
       END $$`,
    );
    expect(await verifyAudit(runtime.state)).toMatchObject({ ok: false });
  });

  it('is 0 when the sweep finds nothing expired', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now())`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', limits: { maxFraction: 1 } }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    const [closing] = await env.sql<{ entry: { lagMs?: number } }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'sweep-finished'`);
    expect(closing!.entry.lagMs).toBe(0);
  });
});
