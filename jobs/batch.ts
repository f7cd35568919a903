import type { Job } from 'bullmq';
import type { JobDeps } from '../src/queue/job-handler.js';
import type { BatchJobData } from '../src/queue/job-data.js';
import { executeBatch, type BatchOutcome } from '../src/executor/execute-batch.js';

/** Deletes or anonymizes one key range of a sweep, with its checkpoint and audit entry. */
export default async function batch(job: Job<BatchJobData>, { runtime }: JobDeps): Promise<BatchOutcome> {
  return executeBatch(runtime, job.data.sweepId, job.data.idx);
}
