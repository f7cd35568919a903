import { Queue } from 'bullmq';
import type { QueueConnection } from './redis-connection.js';
import { BATCH_JOB_OPTIONS, ERASE_JOB_OPTIONS, SWEEP_JOB_OPTIONS } from './job-options.js';
import type { BatchJobData, DrainJobData, EraseJobData, SweepJobData } from './job-data.js';
import { batchJobId, JOB_BATCH, JOB_ERASE, JOB_SWEEP, QUEUE_NAME } from './queue-names.js';

export type SweepQueue = Queue<SweepJobData | BatchJobData | DrainJobData | EraseJobData>;

export function openQueue(connection: QueueConnection, prefix: string): SweepQueue {
  return new Queue(QUEUE_NAME, { connection, prefix });
}

/** Adds one sweep job; `jobId` identifies the sweep it will create. */
export async function enqueueSweep(queue: SweepQueue, data: SweepJobData, jobId: string): Promise<void> {
  await queue.add(JOB_SWEEP, data, { ...SWEEP_JOB_OPTIONS, jobId });
}

/**
 * Adds batch jobs. Ids are derived from sweep and index, so adding a batch that is
 * already queued or running adds nothing; one whose job was lost (Redis restarted) is
 * queued again; one already done is skipped by the executor's checkpoint.
 */
export async function enqueueBatches(queue: SweepQueue, sweepId: string, indexes: readonly number[]): Promise<void> {
  const CHUNK = 1_000;
  for (let i = 0; i < indexes.length; i += CHUNK) {
    await queue.addBulk(
      indexes.slice(i, i + CHUNK).map((idx) => ({
        name: JOB_BATCH,
        data: { sweepId, idx },
        opts: { ...BATCH_JOB_OPTIONS, jobId: batchJobId(sweepId, idx) },
      })),
    );
  }
}

/**
 * Adds a pass over an erasure request. `jobId` makes it idempotent where the caller wants
 * that (the reconciler: one per request per round); a request worked twice at once is
 * safe (the executor lets one process work it).
 */
export async function enqueueErase(queue: SweepQueue, requestId: string, jobId: string): Promise<void> {
  await queue.add(JOB_ERASE, { requestId }, { ...ERASE_JOB_OPTIONS, jobId });
}
