import { UnrecoverableError, type Job } from 'bullmq';
import { processRequest, type RequestProgress } from '../src/executor/process-request.js';
import type { JobDeps } from '../src/queue/job-handler.js';
import { readEraseJobData } from '../src/queue/job-data.js';

/** What the job returns: the request's state after the pass, without the record itself. */
export interface ErasePass {
  requestId: string;
  status: RequestProgress['status'];
  reason?: string;
}

/**
 * One pass over an erasure request (src/executor/process-request.ts). A pass that cannot
 * finish (a hold, a store down) returns `waiting` rather than failing: the request shows
 * why, and the worker's reconciler queues it again until it completes.
 */
export default async function eraseJob(job: Job, { runtime }: JobDeps): Promise<ErasePass> {
  const data = readEraseJobData(job.data);
  if ('problem' in data) throw new UnrecoverableError(`erase job ${job.id}: ${data.problem}`);
  const progress = await processRequest(runtime, data.requestId, 'worker');
  return { requestId: data.requestId, status: progress.status, ...(progress.status === 'waiting' ? { reason: progress.reason } : {}) };
}
