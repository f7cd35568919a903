import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { startWorker } from '../../src/queue/start-worker.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';

let env: TestEnv;
let workers: Worker[] = [];
let queues: SweepQueue[] = [];
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.obliterate({ force: true }).catch(() => undefined).then(() => q.close())));
  workers = [];
  queues = [];
  await env.cleanup();
});

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function queue(): SweepQueue {
  const q = openQueue(env.redis(), env.prefix);
  queues.push(q);
  return q;
}

/** 100 rows 60 days old (expired under P30D, kept under P1Y) and 100 rows 400 days old. */
async function eventsTable(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.events (id serial PRIMARY KEY, at timestamptz)`);
  await env.sql(`INSERT INTO ${env.schema}.events (at) SELECT now() - interval '60 days' FROM generate_series(1, 100)`);
  await env.sql(`INSERT INTO ${env.schema}.events (at) SELECT now() - interval '400 days' FROM generate_series(1, 100)`);
}
const recent = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.events WHERE at > now() - interval '1 year'`))[0]!.n);
const events = { id: 'events', table: 'events', anchor: 'at', action: 'delete', batchSize: 100 };

const auditEvents = async () => (await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log ORDER BY seq`)).map((r) => r.entry);

describe('a trigger on a changed config', () => {
  it('does not join the sweep planned under the old definition, and reports only its own', async () => {
    await eventsTable();
    const before = env.config([{ ...events, retain: 'P30D' }]);
    const old = await plannedSweep(env, before, await env.runtime(before));
    await queue().obliterate({ force: true }); // its batches: only the new run's worker may take them

    const after = env.config([{ ...events, retain: 'P1Y' }]);
    const [result] = await env.run(after);
    expect(result!.joined).toBe(false);
    expect(result!.sweep.id).not.toBe(old.id);
    expect(result!.sweep.rowsAffected).toBe(100);
    expect(await recent()).toBe(100);
    const [oldRow] = await env.sql<{ status: string }>(`SELECT status FROM ${env.stateSchema}.sweeps WHERE id = $1`, [old.id]);
    expect(oldRow!.status).toBe('superseded');
  });

  it('refuses a scheduled job queued under the old definition when an admin run works the queue', async () => {
    await eventsTable();
    await env.sql(`CREATE TABLE ${env.schema}.other (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.other (at) SELECT now() - interval '400 days' FROM generate_series(1, 10)`);
    const other = { id: 'other', table: 'other', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'manual' };
    // A worker registered the schedule while the config said P30D, then stopped.
    const registered = env.config([{ ...events, retain: 'P30D', schedule: 'PT1M' }, other]);
    const q = queue();
    await syncSchedulers(q, registered);
    await until('the scheduled job to be queued', async () => Object.values(await q.getJobCounts('waiting', 'delayed')).some((n) => n > 0));
    await q.removeJobScheduler('rule-events');
    await q.promoteJobs(); // due now

    // The config now says P1Y; an admin runs another rule, and its process works the queue.
    const current = env.config([{ ...events, retain: 'P1Y', schedule: 'PT1M' }, other]);
    await env.run(current, { ruleIds: ['other'] });
    await until('the scheduled job to be worked', async () => Object.values(await q.getJobCounts('waiting', 'active')).every((n) => n === 0));

    expect(await recent()).toBe(100);
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.sweeps WHERE rule_id = 'events'`)).toEqual([]);
    const refused = (await auditEvents()).filter((e) => e.event === 'refused');
    expect(refused).toEqual([expect.objectContaining({ ruleId: 'events', ruleHash: registered.rules[0]!.hash, configRuleHash: current.rules[0]!.hash })]);
  });
});
