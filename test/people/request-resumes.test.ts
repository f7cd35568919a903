import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addHold } from '../../src/executor/place-hold.js';
import { openRequest } from '../../src/executor/open-request.js';
import { releaseHold } from '../../src/executor/release-hold.js';
import { enqueueOpenRequests } from '../../src/queue/enqueue-requests.js';
import { startWorker } from '../../src/queue/start-worker.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { readRequest } from '../../src/state/requests.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * A request that cannot finish resumes by itself: the worker's reconciler queues a pass
 * over every request not complete, and the worker carries it out once the hold is gone.
 * Real BullMQ on the real Redis, under this test's own queue prefix.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), user_id text)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (user_id) VALUES ('u-1'), ('u-1'), ('u-2')`);
});
afterEach(() => env.cleanup());

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('a waiting request', () => {
  it('is queued again by the reconciler and completes through the worker once its hold is released', async () => {
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id' }]);
    const runtime = await env.runtime(config);
    const queue = openQueue(env.redis(), env.prefix);
    const worker = await startWorker(runtime, { connection: env.redis(), prefix: env.prefix, concurrency: 2, queue });
    try {
      await addHold(runtime, { subject: 'u-1', reason: 'litigation', actor: 'test' });
      const request = await openRequest(runtime, { subject: 'u-1', actor: 'test' });
      const read = () => readRequest(runtime.state.db.pool, runtime.state, request.id);

      expect(await enqueueOpenRequests(runtime, queue, 0)).toBe(1);
      const waiting = await until(read, (r) => r?.status === 'waiting', 'the pass to find the hold');
      expect(waiting!.waitingReason).toMatch(/legal hold/);
      expect((await env.sql(`SELECT count(*)::int AS n FROM ${env.schema}.logs WHERE user_id = 'u-1'`))[0]!.n).toBe(2);

      await releaseHold(runtime, { subject: 'u-1' }, 'settled', 'test');
      // The next round of the reconciler (another round id: a new job).
      expect(await enqueueOpenRequests(runtime, queue, 30_000)).toBe(1);
      const done = await until(read, (r) => r?.status === 'completed', 'the request to complete');
      expect(done!.subjectSealed).toBeNull();
      expect((await env.sql(`SELECT user_id FROM ${env.schema}.logs`)).map((r) => r.user_id)).toEqual(['u-2']);
      // Nothing open: the reconciler queues nothing more.
      expect(await enqueueOpenRequests(runtime, queue, 60_000)).toBe(0);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
