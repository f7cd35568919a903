import type { Job } from 'bullmq';
import type { JobDeps } from '../src/queue/job-handler.js';
import type { SweepJobResult } from '../src/queue/job-data.js';
import { startSweep } from '../src/executor/start-sweep.js';
import { enqueueBatches } from '../src/queue/sweep-queue.js';
import { claimNextExpiry, scheduleAfterJoin, scheduleAfterSweepOf } from '../src/queue/next-expiry-jobs.js';

/**
 * Plans a rule's sweep (or joins the sweep already running) and queues its batches. The
 * payload is checked, not trusted: startSweep refuses a job whose rule is not this
 * config's or whose trigger is not recorded. Planning and recording are the executor's;
 * this handler only carries what it returns to the queue.
 */
export default async function sweep(job: Job, { runtime, queue, nextExpiry }: JobDeps): Promise<SweepJobResult> {
  if (!job.id) throw new Error('a sweep job needs an id');
  // A next-expiry job clears its rule's pending instant first, so its sweep's end can queue
  // the next (whichever worker runs it: `retention run`'s in-process one too).
  const claimed = await claimNextExpiry(queue, job.id);
  const { result, enqueue } = await startSweep(runtime, job.id, job.data);
  if (enqueue) await enqueueBatches(queue, enqueue.sweepId, enqueue.batches);
  // A next-expiry job that joined a running sweep carries the chain on itself: that sweep may
  // end on a worker that queues nothing.
  if (enqueue && claimed && result.joined) return { ...result, nextExpiry: await scheduleAfterJoin(runtime, queue, result.sweepId) } as SweepJobResult;
  // Planned with nothing to do, the sweep ended here: its next expiry is queued now.
  else if (!enqueue && !result.blocked && !result.held) return { ...result, nextExpiry: await scheduleAfterSweepOf(runtime, queue, result.sweepId, nextExpiry === true) } as SweepJobResult;
  return result;
}
