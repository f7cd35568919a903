import type { Job } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import sweepJob from '../../jobs/sweep.js';
import { offerNextExpiry } from '../../src/queue/next-expiry-jobs.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
let queue: SweepQueue;
beforeEach(async () => {
  env = await createTestEnv();
  queue = openQueue(env.redis(), env.prefix);
});
afterEach(async () => {
  await queue.close();
  await env.cleanup();
});

/**
 * A next-expiry job that comes due while an admin's `retention run` sweeps the rule joins
 * that sweep. The sweep may end on `retention run`'s in-process worker, which queues no
 * next expiry; so the job that joined queues it, or the rule would wait for its regular
 * schedule (an hour here) for the rows that expire next.
 */
describe('a next-expiry job joining a running sweep', () => {
  it('queues the rule’s next expiry itself', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    // One row expired, one due in ten minutes.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now() - interval '31 days'), (now() - interval '30 days' + interval '10 minutes')`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', schedule: 'PT1H' }]);
    const runtime = await env.runtime(config);
    const rule = config.rules[0]!;
    // The admin's run: planned, its batch not yet run.
    const running = await plannedSweep(env, config, runtime);
    expect(running.status).toBe('running');

    const now = Date.now();
    const offered = await offerNextExpiry(queue, rule, now, now);
    const jobId = (offered as { queued: string }).queued;
    const job = (await queue.getJob(jobId))! as unknown as Job;
    const result = (await sweepJob(job, { runtime, queue, nextExpiry: true })) as { joined: boolean; nextExpiry?: { queued?: string; at?: number } };

    expect(result.joined).toBe(true);
    // The row due in ten minutes has its job, queued by the job that joined.
    const due = Date.parse((await env.sql<{ end: Date }>(`SELECT max(at) + interval '30 days' AS end FROM ${env.schema}.logs`))[0]!.end.toISOString());
    expect(result.nextExpiry?.at).toBeGreaterThanOrEqual(due);
    expect(result.nextExpiry!.at! - due).toBeLessThan(1000);
    const delayed = (await queue.getDelayed()).map((j) => j.id);
    expect(delayed).toContain(result.nextExpiry!.queued);
  });
});
