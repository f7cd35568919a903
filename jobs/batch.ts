import { UnrecoverableError, type Job } from 'bullmq';
import type { JobDeps } from '../src/queue/job-handler.js';
import { readBatchJobData } from '../src/queue/job-data.js';
import { BatchNotFoundError, executeBatch, type BatchOutcome } from '../src/executor/execute-batch.js';
import { isTransient } from '../src/executor/classify-error.js';
import { endSweep } from '../src/executor/end-sweep.js';
import { redactText } from '../src/redact.js';
import { enqueueDrain } from '../src/queue/enqueue-drains.js';
import { scheduleAfterSweepOf } from '../src/queue/next-expiry-jobs.js';

/**
 * Deletes or anonymizes one key range of a sweep, with its checkpoint and audit entry.
 * A batch that fails for good (an error retrying repeats, or its last attempt) ends its
 * sweep as failed, so the rule is not frozen: the next trigger plans a fresh sweep.
 */
export default async function batch(job: Job, { runtime, queue, nextExpiry }: JobDeps): Promise<BatchOutcome> {
  const data = readBatchJobData(job.data);
  if ('problem' in data) throw new UnrecoverableError(`batch job ${job.id}: ${data.problem}`);
  let outcome: BatchOutcome;
  try {
    outcome = await executeBatch(runtime, data.sweepId, data.idx);
  } catch (error) {
    const attempts = job.attemptsMade + 1;
    const final = !isTransient(error) || attempts >= (job.opts.attempts ?? 1);
    // A job naming a batch the sweep does not have (added by hand) says nothing about the sweep.
    if (final && !(error instanceof BatchNotFoundError)) {
      const reason = `batch ${data.idx} failed after ${attempts} attempt(s): ${redactText((error as Error).message ?? String(error))}`;
      // If this cannot be recorded now (the database is down), the reconciler ends the
      // sweep when it finds the job failed.
      await endSweep(runtime, data.sweepId, 'failed', reason).catch(() => undefined);
    }
    throw error;
  }
  // The rows and their outbox entries have committed; the objects go in a drain job. If
  // this process dies first, the reconciler queues a drain for the waiting entries.
  if (outcome.drain) await enqueueDrain(queue, outcome.drain, `${data.sweepId}-${data.idx}`);
  // The sweep's last batch: its rule's next expiry is queued (the outcome says what, for the log).
  if (outcome.finished) return { ...outcome, nextExpiry: await scheduleAfterSweepOf(runtime, queue, data.sweepId, nextExpiry === true) } as BatchOutcome;
  return outcome;
}
