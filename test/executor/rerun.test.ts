import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { BatchNotFoundError, executeBatch } from '../../src/executor/execute-batch.js';
import { findSweep } from '../../src/state/sweeps.js';
import { auditOf, plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/** 250 rows, every other one past P30D: three batches of 100 keys. */
async function createLogs(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
  await env.sql(
    `INSERT INTO ${env.schema}.logs (at) SELECT now() - make_interval(days => CASE WHEN g % 2 = 0 THEN 60 ELSE 5 END) FROM generate_series(1, 250) g`,
  );
}

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100, limits: { maxFraction: 1 } };

async function count(where = 'true'): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs WHERE ${where}`))[0]!.n);
}

describe('re-running a sweep', () => {
  it('affects 0 rows the second time and the audit still verifies', async () => {
    await createLogs();
    const config = env.config([logsRule]);
    const [first] = await env.run(config);
    expect(first!.sweep.rowsAffected).toBe(125);
    expect(await count()).toBe(125);

    const [second] = await env.run(config);
    expect(second!.sweep.id).not.toBe(first!.sweep.id);
    expect(second!.sweep.status).toBe('done');
    expect(second!.sweep.rowsAffected).toBe(0);
    expect(await count()).toBe(125);
    expect(await count(`at + interval '30 days' <= now()`)).toBe(0);

    const verified = await verifyAudit((await env.runtime(config)).state);
    expect(verified).toMatchObject({ ok: true });
    const finished = (await auditOf(env, second!.sweep.id)).filter((e) => e.event === 'sweep-finished');
    expect(finished).toEqual([expect.objectContaining({ rows: 0 })]);
  });
});

describe('re-running a batch', () => {
  it('is skipped the second time and changes nothing, even when new expired rows appeared in its range', async () => {
    await createLogs();
    const config = env.config([logsRule]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    expect(sweep.batchesTotal).toBeGreaterThan(1);
    const last = sweep.batchesTotal - 1;
    const [range] = await env.sql<{ after_key: string; up_to_key: string | null }>(
      `SELECT after_key, up_to_key FROM ${env.stateSchema}.batches WHERE sweep_id = $1 AND idx = $2`,
      [sweep.id, last],
    );
    expect(range!.up_to_key).toBeNull();
    const expiredInRange = await count(`id > ${Number(range!.after_key)} AND at + interval '30 days' <= now()`);
    expect(expiredInRange).toBeGreaterThan(0);

    const first = await executeBatch(runtime, sweep.id, last);
    expect(first).toEqual({ rows: expiredInRange, skipped: false });
    // The last batch is open-ended: a row added now falls in its range and is expired.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now() - interval '90 days')`);
    const before = await count();

    const again = await executeBatch(runtime, sweep.id, last);
    expect(again).toEqual({ rows: 0, skipped: true });
    expect(await count()).toBe(before);

    const batches = await env.sql<{ rows: string; done: boolean }>(
      `SELECT rows, done FROM ${env.stateSchema}.batches WHERE sweep_id = $1 AND idx = $2`,
      [sweep.id, last],
    );
    expect(batches).toEqual([{ rows: String(expiredInRange), done: true }]);
    const entries = (await auditOf(env, sweep.id)).filter((e) => e.event === 'batch');
    expect(entries).toEqual([expect.objectContaining({ batch: last, rows: expiredInRange })]);
    const recorded = await findSweep(runtime.state, sweep.id);
    expect(recorded).toMatchObject({ batchesDone: 1, rowsAffected: expiredInRange, status: 'running' });
  });

  it('runs once when two workers run the same batch at the same moment', async () => {
    await createLogs();
    const config = env.config([logsRule]);
    const runtime = await env.runtime(config);
    const other = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);

    const expiredBefore = await count(`at + interval '30 days' <= now()`);

    const outcomes = await Promise.all([executeBatch(runtime, sweep.id, 0), executeBatch(other, sweep.id, 0)]);
    expect(outcomes.map((o) => o.skipped).sort()).toEqual([false, true]);
    const ran = outcomes.find((o) => !o.skipped)!;
    expect(ran.rows).toBeGreaterThan(0);
    expect(outcomes.find((o) => o.skipped)!.rows).toBe(0);
    expect(await count(`at + interval '30 days' <= now()`)).toBe(expiredBefore - ran.rows);
    const entries = (await auditOf(env, sweep.id)).filter((e) => e.event === 'batch');
    expect(entries).toEqual([expect.objectContaining({ batch: 0, rows: ran.rows })]);
    expect(await findSweep(runtime.state, sweep.id)).toMatchObject({ batchesDone: 1, rowsAffected: ran.rows });
  });

  it('finishes the sweep exactly once, with the total of its batches', async () => {
    await createLogs();
    const config = env.config([logsRule]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) expect(await executeBatch(runtime, sweep.id, idx)).toEqual({ rows: 0, skipped: true });

    expect(await findSweep(runtime.state, sweep.id)).toMatchObject({ status: 'done', batchesDone: sweep.batchesTotal, rowsAffected: 125 });
    const entries = await auditOf(env, sweep.id);
    expect(entries.filter((e) => e.event === 'batch').map((e) => e.batch)).toEqual([...Array(sweep.batchesTotal).keys()]);
    expect(entries.filter((e) => e.event === 'sweep-finished')).toEqual([expect.objectContaining({ rows: 125 })]);
    expect(await count()).toBe(125);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('refuses a batch the sweep does not have', async () => {
    await createLogs();
    const config = env.config([logsRule]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    await expect(executeBatch(runtime, sweep.id, sweep.batchesTotal)).rejects.toBeInstanceOf(BatchNotFoundError);
    await expect(executeBatch(runtime, 'no-such-sweep', 0)).rejects.toBeInstanceOf(BatchNotFoundError);
    expect(await count()).toBe(250);
  });
});
