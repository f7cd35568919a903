import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job, Worker } from 'bullmq';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import type { BatchOutcome } from '../../src/executor/execute-batch.js';
import type { BatchJobData } from '../../src/queue/job-data.js';
import { JOB_BATCH } from '../../src/queue/queue-names.js';
import { startWorker } from '../../src/queue/start-worker.js';
import { enqueueSweep, openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';

let env: TestEnv;
let workers: Worker[] = [];
let queues: SweepQueue[] = [];
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  // Workers use the runtimes' pools: stop them before the env closes those.
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all(queues.map((q) => q.close()));
  workers = [];
  queues = [];
  await env.cleanup();
});

const ROWS = 4_000;
const BATCH_SIZE = 200;
const POLL_MS = 50;

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

describe('two workers sharing one sweep', () => {
  it('split its batches, run each exactly once, and delete exactly the expired rows', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, at timestamptz)`);
    // Even ids are long expired, odd ids recent, every 10th has no anchor at all.
    await env.sql(
      `INSERT INTO ${env.schema}.events (at)
       SELECT CASE WHEN g % 10 = 0 THEN NULL WHEN g % 2 = 0 THEN now() - interval '400 days' ELSE now() - interval '1 day' END
         FROM generate_series(1, ${ROWS}) g`,
    );
    // A batch of a real table takes a while; make each one take at least 50 ms so one
    // worker cannot drain the queue before the other has woken up.
    await env.sql(`CREATE FUNCTION ${env.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$`);
    await env.sql(`CREATE TRIGGER slow BEFORE DELETE ON ${env.schema}.events FOR EACH STATEMENT EXECUTE FUNCTION ${env.schema}.slow()`);
    const expected = await env.sql<{ kept: string[]; expired: string }>(
      `SELECT array_agg(id::text ORDER BY id) FILTER (WHERE at IS NULL OR at > now() - interval '30 days') AS kept,
              count(*) FILTER (WHERE at <= now() - interval '30 days') AS expired
         FROM ${env.schema}.events`,
    );
    const expired = Number(expected[0]!.expired);
    expect(expired).toBe(1_600);

    const config = env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: BATCH_SIZE, limits: { maxFraction: 1 } }]);
    const completed: { worker: string; idx: number; outcome: BatchOutcome }[] = [];
    for (const name of ['a', 'b']) {
      const runtime = await env.runtime(config);
      const queue = openQueue(env.redis(), env.prefix);
      queues.push(queue);
      const worker = await startWorker(runtime, { connection: env.redis(), prefix: env.prefix, concurrency: 2, queue });
      workers.push(worker);
      worker.on('completed', (job: Job, outcome: unknown) => {
        if (job.name === JOB_BATCH) completed.push({ worker: name, idx: (job.data as BatchJobData).idx, outcome: outcome as BatchOutcome });
      });
    }

    const { jobId, data } = await recordManualTrigger((await env.runtime(config)).state, config.rules[0]!, { actor: 'test', dryRun: false });
    await enqueueSweep(queues[0]!, data, jobId);
    let sweep: { id: string; status: string; batches_total: number; rows_affected: string } | undefined;
    await until('the sweep to finish', async () => {
      const rows = await env.sql<NonNullable<typeof sweep>>(`SELECT id, status, batches_total, rows_affected FROM ${env.stateSchema}.sweeps`);
      sweep = rows[0];
      return sweep?.status === 'done';
    });
    const total = sweep!.batches_total;
    expect(total).toBeGreaterThanOrEqual(ROWS / BATCH_SIZE);
    // The batch's commit comes before BullMQ reports the job completed.
    await until('every batch job to report', async () => completed.length >= total);

    // Both workers did part of the work, and every batch ran once, for real.
    const byWorker = (name: string) => completed.filter((c) => c.worker === name).length;
    expect(byWorker('a')).toBeGreaterThan(0);
    expect(byWorker('b')).toBeGreaterThan(0);
    expect(completed).toHaveLength(total);
    expect(completed.map((c) => c.idx).sort((x, y) => x - y)).toEqual([...Array(total).keys()]);
    expect(completed.filter((c) => c.outcome.skipped)).toEqual([]);

    // Exactly the expired rows are gone.
    const left = await env.sql<{ ids: string[] }>(`SELECT array_agg(id::text ORDER BY id) AS ids FROM ${env.schema}.events`);
    expect(left[0]!.ids).toEqual(expected[0]!.kept);
    expect(Number(sweep!.rows_affected)).toBe(expired);

    // The checkpoints and the audit agree with what happened, once per batch.
    const batches = await env.sql<{ n: string; done: string; rows: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE done) AS done, sum(rows) AS rows FROM ${env.stateSchema}.batches WHERE sweep_id = $1`,
      [sweep!.id],
    );
    expect(batches[0]).toEqual({ n: String(total), done: String(total), rows: String(expired) });
    const audit = await env.sql<{ event: string; entries: string; distinct_batches: string; rows: string }>(
      `SELECT entry->>'event' AS event, count(*) AS entries, count(DISTINCT entry->>'batch') AS distinct_batches, sum((entry->>'rows')::int) AS rows
         FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 GROUP BY 1 ORDER BY 1`,
      [sweep!.id],
    );
    // A batch that found nothing writes no entry (the closing entry counts it).
    const [{ n: withRows }] = (await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.stateSchema}.batches WHERE sweep_id = $1 AND rows > 0`, [sweep!.id])) as [{ n: string }];
    expect(audit).toEqual([
      { event: 'batch', entries: withRows, distinct_batches: withRows, rows: String(expired) },
      { event: 'sweep-finished', entries: '1', distinct_batches: '0', rows: String(expired) },
    ]);
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });
});
