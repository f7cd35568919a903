import type { Job } from 'bullmq';
import type { JobDeps } from '../src/queue/job-handler.js';
import type { SweepJobResult } from '../src/queue/job-data.js';
import { startSweep } from '../src/queue/start-sweep.js';

/**
 * Plans a rule's sweep and queues its batches (or joins the sweep already running). The
 * payload is checked, not trusted: startSweep refuses a job whose rule is not this
 * config's or whose trigger is not recorded.
 */
export default async function sweep(job: Job, { runtime, queue }: JobDeps): Promise<SweepJobResult> {
  if (!job.id) throw new Error('a sweep job needs an id');
  return startSweep(runtime, queue, job.id, job.data);
}
