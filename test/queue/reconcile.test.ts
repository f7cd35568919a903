import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { reconcileSweeps } from '../../src/queue/reconcile-sweeps.js';
import { startWorker } from '../../src/queue/start-worker.js';
import { openQueue } from '../../src/queue/sweep-queue.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

describe('reconcileSweeps', () => {
  it('re-runs a batch whose job completed but whose commit was lost, so the sweep can finish', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '2 years' FROM generate_series(1, 500)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 }]);
    const [result] = await env.run(config);
    const sweepId = result!.sweep.id;

    // As after a failover to a replica that had not received the last commit: batch 0 is
    // not done and its rows are back, but BullMQ still holds its job as completed.
    await env.sql(`INSERT INTO ${env.schema}.logs (id, at) SELECT g, now() - interval '2 years' FROM generate_series(1, 100) g`);
    await env.sql(`UPDATE ${env.stateSchema}.batches SET done = false, rows = NULL, done_at = NULL WHERE sweep_id = $1 AND idx = 0`, [sweepId]);
    await env.sql(
      `UPDATE ${env.stateSchema}.sweeps SET status = 'running', finished_at = NULL, batches_done = batches_done - 1, rows_affected = rows_affected - 100 WHERE id = $1`,
      [sweepId],
    );

    const runtime = await env.runtime(config);
    const queue = openQueue(env.redis(), env.prefix);
    const completed = await queue.getJob(`b-${sweepId}-0`);
    expect(await completed!.isCompleted()).toBe(true);
    const worker = await startWorker(runtime, { connection: env.redis(), prefix: env.prefix, concurrency: 1, queue });
    try {
      expect(await reconcileSweeps(runtime, queue)).toEqual({ resumed: 1, ended: [] });
      for (let i = 0; i < 100; i++) {
        const [sweep] = await env.sql<{ status: string }>(`SELECT status FROM ${env.stateSchema}.sweeps WHERE id = $1`, [sweepId]);
        if (sweep!.status === 'done') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const [sweep] = await env.sql<{ status: string; rows_affected: string }>(`SELECT status, rows_affected FROM ${env.stateSchema}.sweeps WHERE id = $1`, [sweepId]);
      expect(sweep).toEqual({ status: 'done', rows_affected: '500' });
      expect(await env.sql(`SELECT id FROM ${env.schema}.logs`)).toEqual([]);
    } finally {
      await worker.close();
      await queue.close();
    }
  });
});
