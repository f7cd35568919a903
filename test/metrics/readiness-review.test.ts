import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { sparePort } from '../faults/helpers/spare-port.js';
import { checkReadiness } from '../../src/metrics/readiness.js';
import { createWorkerLog } from '../../src/metrics/worker-log.js';
import { startObservability } from '../../src/metrics/worker-observability.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';

/** /readyz: a scheduler registered with another rule definition is not ready; a stopping worker is not ready. */
let env: TestEnv;
const cleanups: (() => Promise<unknown> | void)[] = [];
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await env.cleanup();
});

const logs = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' };

describe('readiness', () => {
  it('is not ready, naming the rule, when a job scheduler carries another definition of it', async () => {
    const ours = env.config([logs]);
    const theirs = env.config([{ ...logs, retain: 'P2Y' }]);
    const runtime = await env.runtime(ours);
    const redis = env.redis();
    const queue = openQueue(redis, env.prefix);
    cleanups.push(() => queue.close());
    await syncSchedulers(queue, ours);
    expect(await checkReadiness({ redis, state: runtime.state, queue, config: ours })).toEqual({ ready: true, notReady: {} });
    // Another worker, with another config, registered the scheduler last.
    await syncSchedulers(queue, theirs);
    const readiness = await checkReadiness({ redis, state: runtime.state, queue, config: ours });
    expect(readiness.ready).toBe(false);
    expect(Object.keys(readiness.notReady)).toEqual(['schedulers']);
    expect(readiness.notReady.schedulers).toContain('another definition of rule logs');
  });

  it('answers /readyz and scrapes through a pool of its own while batches hold every state connection', async () => {
    const config = env.config([logs]);
    const runtime = await env.runtime(config);
    const redis = env.redis();
    const queue = openQueue(redis, env.prefix);
    cleanups.push(() => queue.close());
    await syncSchedulers(queue, config);
    const log = await createWorkerLog({ level: 'silent', format: 'json' });
    const port = await sparePort();
    const observed = await startObservability(runtime, log, { host: '127.0.0.1', port, origin: 'test', loopback: true });
    cleanups.push(() => observed.close());
    observed.connected(redis, queue);
    // Every connection of the runtime's state pool taken, as by batches in flight.
    const pool = runtime.state.db.pool;
    const held = await Promise.all(Array.from({ length: pool.options.max }, () => pool.connect()));
    cleanups.push(() => held.forEach((client) => client.release()));
    const response = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(await response.json()).toEqual({ ready: true, notReady: {} });
    const active = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'retention-observer'`);
    expect(Number(active[0]!.n)).toBeGreaterThanOrEqual(1);
  });

  it('answers 503 on /readyz once the worker is stopping, before it closes', async () => {
    const config = env.config([logs]);
    const runtime = await env.runtime(config);
    const redis = env.redis();
    const queue = openQueue(redis, env.prefix);
    cleanups.push(() => queue.close());
    await syncSchedulers(queue, config);
    const log = await createWorkerLog({ level: 'silent', format: 'json' });
    const port = await sparePort();
    const observed = await startObservability(runtime, log, { host: '127.0.0.1', port, origin: 'test', loopback: true });
    cleanups.push(() => observed.close());
    observed.connected(redis, queue);
    const url = `http://127.0.0.1:${port}/readyz`;
    expect((await fetch(url)).status).toBe(200);
    observed.stopping();
    const response = await fetch(url);
    expect(response.status).toBe(503);
    expect(((await response.json()) as { notReady: Record<string, string> }).notReady).toEqual({ worker: 'stopping: finishing batches in flight' });
  });
});
