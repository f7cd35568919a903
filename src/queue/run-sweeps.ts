import { randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { findSweep, pendingBatches, type SweepRecord } from '../state/sweeps.js';
import type { SweepJobResult } from './job-data.js';
import { UserError } from '../errors.js';
import { batchJobId } from './queue-names.js';
import { startWorker } from './start-worker.js';
import { enqueueSweep, openQueue } from './sweep-queue.js';

const POLL_MS = 200;
const FAILURE_CHECK_EVERY = 10;

export interface RunSweepsOptions {
  connection: Redis;
  dryRun: boolean;
  actor: string;
  /** Batches this process works at once while it waits. */
  concurrency: number;
  /** Called as batches finish: done and total over all rules. */
  onProgress?: (done: number, total: number) => void;
  /** Resolves to stop waiting early (SIGINT); in-flight batches still finish. */
  signal?: AbortSignal;
}

export interface RuleRunResult {
  rule: Rule;
  sweep: SweepRecord;
  /** True when the rule was already sweeping and this run waited for that sweep. */
  joined: boolean;
}

/**
 * What `retention run` does: queue one sweep per rule on the shared queue, work the queue
 * in this process while waiting (so it finishes with or without a worker running; running
 * workers share the batches), and return each sweep as recorded when it finished.
 */
export async function runSweeps(runtime: Runtime, rules: readonly Rule[], options: RunSweepsOptions): Promise<RuleRunResult[]> {
  const { config } = runtime;
  const queue = openQueue(options.connection, config.queuePrefix);
  const worker = await startWorker(runtime, {
    connection: options.connection,
    prefix: config.queuePrefix,
    concurrency: options.concurrency,
    queue,
  });
  try {
    const jobs: { rule: Rule; jobId: string }[] = [];
    for (const rule of rules) {
      const jobId = `run-${rule.id}-${randomUUID()}`;
      await enqueueSweep(queue, { rule, configHash: config.hash, actor: options.actor, trigger: 'manual', dryRun: options.dryRun }, jobId);
      jobs.push({ rule, jobId });
    }
    const started = new Map<string, SweepJobResult>();
    const finished = new Map<string, SweepRecord>();
    for (let tick = 0; finished.size < jobs.length; tick++) {
      if (options.signal?.aborted) throw new UserError('interrupted; unfinished batches stay queued and any worker (or the next run) finishes them', { exitCode: 130 });
      let done = 0;
      let total = 0;
      for (const { rule, jobId } of jobs) {
        const known = finished.get(jobId);
        if (known) {
          done += known.batchesTotal;
          total += known.batchesTotal;
          continue;
        }
        let result = started.get(jobId);
        if (!result) {
          const job = await queue.getJob(jobId);
          await failIfFinallyFailed(job, `sweep of rule ${rule.id}`);
          if (!job || !(await job.isCompleted())) continue;
          result = job.returnvalue as SweepJobResult;
          started.set(jobId, result);
        }
        const sweep = await findSweep(runtime.state, result.sweepId);
        if (!sweep) throw new Error(`sweep ${result.sweepId} of rule ${rule.id} vanished from the state database`);
        done += sweep.batchesDone;
        total += sweep.batchesTotal;
        if (sweep.status === 'done') finished.set(jobId, sweep);
        else if (tick % FAILURE_CHECK_EVERY === 0) await failIfBatchFailed(runtime, queue, sweep);
      }
      options.onProgress?.(done, total);
      if (finished.size < jobs.length) await sleep(POLL_MS);
    }
    return jobs.map(({ rule, jobId }) => ({ rule, sweep: finished.get(jobId)!, joined: started.get(jobId)!.joined }));
  } finally {
    await worker.close();
    await queue.close();
  }
}

async function failIfBatchFailed(runtime: Runtime, queue: ReturnType<typeof openQueue>, sweep: SweepRecord): Promise<void> {
  for (const idx of await pendingBatches(runtime.state, sweep.id)) {
    await failIfFinallyFailed(await queue.getJob(batchJobId(sweep.id, idx)), `batch ${idx} of rule ${sweep.ruleId}`);
  }
}

/**
 * BullMQ moves a job to "failed" only when it will not be retried (attempts used up, or
 * an UnrecoverableError); retries wait in "delayed". So a failed job ends the wait.
 */
async function failIfFinallyFailed(job: Job | undefined, what: string): Promise<void> {
  if (!job || !(await job.isFailed())) return;
  throw new UserError(`${what} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`, { exitCode: 1 });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
