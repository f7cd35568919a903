import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Worker } from 'bullmq';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import type { Config } from '../../src/policy/config.js';
import { startWorker } from '../../src/queue/start-worker.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';

let env: TestEnv;
let workers: Worker[] = [];
let queues: SweepQueue[] = [];
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.close()));
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

const auditEntries = async () => (await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log ORDER BY seq`)).map((r) => r.entry);

/** Adds jobs to the queue as anyone with access to Redis could, and lets a worker of `config` work them. */
async function workForgedJobs(config: Config, jobs: readonly [string, unknown][]): Promise<SweepQueue> {
  const runtime = await env.runtime(config);
  const queue = openQueue(env.redis(), env.prefix);
  queues.push(queue);
  for (const [jobId, data] of jobs) await queue.add('sweep', data as never, { jobId, attempts: 1 });
  workers.push(await startWorker(runtime, { connection: env.redis(), prefix: env.prefix, concurrency: 2, queue }));
  await until('the forged jobs to be worked', async () => {
    const states = await Promise.all(jobs.map(([jobId]) => queue.getJobState(jobId)));
    return states.every((s) => s === 'failed' || s === 'completed');
  });
  return queue;
}

describe('a job added to the queue by hand', () => {
  it('with a rule the worker does not have deletes nothing, and its actor is recorded nowhere', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.customers (id serial PRIMARY KEY, created timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.customers (created) SELECT now() - interval '10 days' FROM generate_series(1, 300)`);
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }]);
    // The forger's rule: everything in customers, the whole rule in the payload as earlier versions carried it.
    const foreign = env.config([{ id: 'wipe', table: 'customers', anchor: 'created', retain: 'P1D', action: 'delete' }]).rules[0]!;
    const forged: [string, unknown][] = [
      ['forged-rule', { rule: foreign, configHash: config.hash, actor: 'forged-actor', trigger: 'manual', dryRun: false }],
      ['forged-schedule', { trigger: 'schedule', ruleId: 'wipe', ruleHash: foreign.hash, rule: foreign, actor: 'forged-actor' }],
      ['forged-trigger', { trigger: 'manual', triggerId: 'no-such-trigger', rule: foreign, actor: 'forged-actor' }],
    ];
    const queue = await workForgedJobs(config, forged);

    expect((await env.sql(`SELECT id FROM ${env.schema}.customers`)).length).toBe(300);
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.sweeps`)).toEqual([]);
    const entries = await auditEntries();
    expect(entries.filter((e) => JSON.stringify(e).includes('forged-actor'))).toEqual([]);
    expect(entries.map((e) => [e.event, e.actor])).toEqual([
      ['refused', 'unknown'],
      ['refused', 'unknown'],
      ['refused', 'unknown'],
    ]);
    for (const [jobId] of forged) expect(await queue.getJobState(jobId)).toBe('failed');
  });

  it("naming a real trigger's id in a job of its own is refused: a trigger is good for its one job", async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }]);
    await env.run(config); // an admin's run: its trigger row records who and how
    const [real] = await env.sql<{ id: string }>(`SELECT id FROM ${env.stateSchema}.triggers`);
    await workForgedJobs(config, [['forged-copy', { trigger: 'manual', triggerId: real!.id }]]);

    expect(await env.sql(`SELECT actor FROM ${env.stateSchema}.sweeps`)).toEqual([{ actor: 'test' }]);
    const refused = (await auditEntries()).filter((e) => e.event === 'refused');
    expect(refused).toEqual([expect.objectContaining({ ruleId: 'logs', reason: expect.stringContaining('was recorded for job') })]);
  });
});
