import type { Job } from 'bullmq';
import type { JobDeps } from '../src/queue/job-handler.js';
import type { SweepJobData, SweepJobResult } from '../src/queue/job-data.js';
import { startSweep } from '../src/queue/start-sweep.js';

/** Plans a rule's sweep and queues its batches (or joins the sweep already running). */
export default async function sweep(job: Job<SweepJobData>, { runtime, queue }: JobDeps): Promise<SweepJobResult> {
  if (!job.id) throw new Error('a sweep job needs an id');
  return startSweep(runtime, queue, job.id, job.data);
}
