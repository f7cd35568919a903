import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { reconcileSweeps } from '../../src/queue/reconcile-sweeps.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const accounts = { id: 'accounts', table: 'accounts', anchor: 'last_seen', retain: 'P1Y', action: 'delete', batchSize: 100 };

async function accountsTable(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.accounts (id serial PRIMARY KEY, last_seen timestamptz, legal_hold boolean NOT NULL DEFAULT false)`);
  await env.sql(`INSERT INTO ${env.schema}.accounts (last_seen, legal_hold) SELECT now() - interval '400 days', g % 3 = 0 FROM generate_series(1, 150) g`);
}

const sweepRow = async (id: string) =>
  (await env.sql<{ status: string; reason: string | null; rows_affected: string }>(`SELECT * FROM ${env.stateSchema}.sweeps WHERE id = $1`, [id]))[0];

const entries = async (sweepId: string) =>
  (await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`, [sweepId])).map((r) => r.entry);

/**
 * A sweep is planned under one definition of its rule; by the time a batch runs, the
 * worker's config says something else. The batch must never delete under the old one.
 */
describe('a sweep whose rule changed or left the config', () => {
  it('leaves the rows a legal-hold filter added after planning protects: the sweep is superseded, nothing deleted', async () => {
    await accountsTable();
    const before = env.config([accounts]);
    const sweep = await plannedSweep(env, before, await env.runtime(before));

    // The policy now keeps accounts under legal hold; a worker on the new config picks up the batches.
    const after = env.config([{ ...accounts, where: { legal_hold: false } }]);
    const worker = await env.runtime(after);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(worker, sweep.id, idx);

    const held = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.accounts WHERE legal_hold`);
    expect(Number(held[0]!.n)).toBe(50);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'superseded', rows_affected: '0' });
    const superseded = (await entries(sweep.id)).filter((e) => e.event === 'superseded');
    expect(superseded).toEqual([
      expect.objectContaining({ ruleHash: before.rules[0]!.hash, configRuleHash: after.rules[0]!.hash, reason: expect.stringContaining('changed since the sweep was planned') }),
    ]);
    expect((await entries(sweep.id)).filter((e) => e.event === 'batch')).toEqual([]);
  });

  it('runs the rule of its own config, not the copy stored with the sweep: an edited copy deletes nothing more', async () => {
    await accountsTable();
    const config = env.config([{ ...accounts, where: { legal_hold: false } }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    // Someone with write access to the state database strips the legal-hold filter from the
    // stored rule but leaves its definition hash, hoping the batches run the stored copy.
    await env.sql(`UPDATE ${env.stateSchema}.sweeps SET rule = jsonb_set(rule, '{target,where}', '[]'::jsonb) WHERE id = $1`, [sweep.id]);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);

    const left = await env.sql<{ held: boolean; n: string }>(`SELECT legal_hold AS held, count(*) AS n FROM ${env.schema}.accounts GROUP BY 1 ORDER BY 1`);
    expect(left.map((r) => [r.held, Number(r.n)])).toEqual([[true, 50]]);
  });

  it('is superseded, not finished, when its rule was removed from the config', async () => {
    await accountsTable();
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const before = env.config([accounts]);
    const sweep = await plannedSweep(env, before, await env.runtime(before));

    const after = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }]);
    const worker = await env.runtime(after);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) expect((await executeBatch(worker, sweep.id, idx)).rows).toBe(0);

    expect((await env.sql(`SELECT id FROM ${env.schema}.accounts`)).length).toBe(150);
    expect(await sweepRow(sweep.id)).toMatchObject({ status: 'superseded', reason: expect.stringContaining('no longer in the config') });
    const events = (await entries(sweep.id)).map((e) => e.event);
    expect(events).toEqual(['superseded']);
    expect((await entries(sweep.id))[0]).toMatchObject({ configRuleHash: null, ruleHash: before.rules[0]!.hash });
  });

  it('is superseded by the reconciler, which does not queue its batches again', async () => {
    await accountsTable();
    const before = env.config([accounts]);
    const sweep = await plannedSweep(env, before, await env.runtime(before));
    const queue = openQueue(env.redis(), env.prefix);
    try {
      // What plannedSweep queued: no worker listens on this prefix.
      await queue.obliterate({ force: true });
      const after = env.config([{ ...accounts, retain: 'P2Y' }]);
      await reconcileSweeps(await env.runtime(after), queue);
      expect(await sweepRow(sweep.id)).toMatchObject({ status: 'superseded' });
      expect(await queue.getJobCounts('waiting', 'delayed', 'prioritized')).toMatchObject({ waiting: 0, delayed: 0, prioritized: 0 });
    } finally {
      await queue.close();
    }
    expect((await env.sql(`SELECT id FROM ${env.schema}.accounts`)).length).toBe(150);
  });
});
