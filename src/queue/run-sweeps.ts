import type { Job } from 'bullmq';
import type { QueueConnection } from './redis-connection.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { findSweep, type SweepRecord } from '../state/sweeps.js';
import type { BlockedSweep, SweepJobData, SweepJobResult } from './job-data.js';
import { UserError } from '../errors.js';
import { isTransient } from '../executor/classify-error.js';
import { recordManualTrigger } from './manual-trigger.js';
import { settleSweep } from './reconcile-sweeps.js';
import { startWorker } from './start-worker.js';
import { enqueueSweep, openQueue } from './sweep-queue.js';
import { drainCascades } from '../executor/drain-cascades.js';
import { isObjectOutbox } from '../stores/owned-objects.js';
import { auditHead, heldInSweep } from '../audit/held-in-sweep.js';
import type { RuleHeld } from '../executor/sweep-on-hold.js';

/** How often a run checks whether its sweeps are done: it notices the end half of this late on average. */
const POLL_MS = 50;
/** Failed-batch checks and re-queueing every 2 s (every FAILURE_CHECK_EVERY polls). */
const FAILURE_CHECK_EVERY = 40;

export interface RunSweepsOptions {
  connection: QueueConnection;
  dryRun: boolean;
  actor: string;
  /** Batches this process works at once while it waits. */
  concurrency: number;
  /** Called as batches finish: done and total over all rules. */
  onProgress?: (done: number, total: number) => void;
  /** Resolves to stop waiting early (SIGINT); in-flight batches still finish. */
  signal?: AbortSignal;
  /** `--confirm TOKEN` for a sweep over its limits. */
  confirm?: string;
}

export interface RuleRunResult {
  rule: Rule;
  sweep: SweepRecord;
  /** True when the rule was already sweeping and this run waited for that sweep. */
  joined: boolean;
  /** Set when the sweep exceeded its limits and touched nothing. */
  blocked: BlockedSweep | null;
  /** Items its batches kept because their subject is on legal hold (their audit entries' `held`). */
  held: number;
}

/** A rule the run did not sweep because it is on legal hold (audited as `held`). */
export interface RuleOnHold {
  rule: Rule;
  held: RuleHeld;
}

/** Every rule of the run: swept (in the order given), or not started because it is on hold. */
export interface RunSweepsResult {
  swept: RuleRunResult[];
  onHold: RuleOnHold[];
}

/**
 * What `retention run` does: queue one sweep per rule on the shared queue, work the queue
 * in this process while waiting (so it finishes with or without a worker running; running
 * workers share the batches), and return each sweep as recorded when it finished, and
 * the rules that started none because they are on legal hold.
 */
export async function runSweeps(runtime: Runtime, rules: readonly Rule[], options: RunSweepsOptions): Promise<RunSweepsResult> {
  const { config } = runtime;
  const queue = openQueue(options.connection, config.queuePrefix);
  const worker = await startWorker(runtime, {
    connection: options.connection,
    prefix: config.queuePrefix,
    concurrency: options.concurrency,
    queue,
  });
  try {
    // Every batch entry of a sweep this run starts comes after this one.
    const head = await auditHead(runtime.state);
    const jobs: { rule: Rule; jobId: string; data: SweepJobData }[] = [];
    for (const rule of rules) {
      // The actor, dry-run flag and confirmation go to the state database; the job
      // carries only the trigger row's id.
      const { jobId, data } = await recordManualTrigger(runtime.state, rule, {
        actor: options.actor,
        dryRun: options.dryRun,
        ...(options.confirm === undefined ? {} : { confirm: options.confirm }),
      });
      await enqueueSweep(queue, data, jobId);
      jobs.push({ rule, jobId, data });
    }
    const started = new Map<string, SweepJobResult>();
    const finished = new Map<string, SweepRecord>();
    const onHold = new Map<string, RuleHeld>();
    const pollOnce = async (tick: number) => {
      let done = 0;
      let total = 0;
      for (const { rule, jobId, data } of jobs) {
        if (onHold.has(jobId)) continue;
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
          // Lost with a Redis restart: add it again; its id leads to the same sweep.
          if (!job) await enqueueSweep(queue, data, jobId);
          if (!job || !(await job.isCompleted())) continue;
          // `job` was read before it completed when it completed between the two calls: its
          // returnvalue is then still null; the next poll reads it again.
          if (!job.returnvalue) continue;
          result = job.returnvalue as SweepJobResult;
          started.set(jobId, result);
        }
        if (result.held) {
          onHold.set(jobId, result.held);
          continue;
        }
        const sweep = await findSweep(runtime.state, result.sweepId);
        if (!sweep) throw new Error(`sweep ${result.sweepId} of rule ${rule.id} vanished from the state database`);
        done += sweep.batchesDone;
        total += sweep.batchesTotal;
        if (sweep.status !== 'running') finished.set(jobId, sweep);
        // Ends the sweep as failed when a batch failed for good (the next poll sees it),
        // and re-queues batches a Redis restart lost.
        else if (tick % FAILURE_CHECK_EVERY === 0) await settleSweep(runtime, queue, sweep);
      }
      return { done, total };
    };
    for (let tick = 0; finished.size + onHold.size < jobs.length; tick++) {
      if (options.signal?.aborted) throw new UserError('interrupted; unfinished batches stay queued and any worker (or the next run) finishes them', { exitCode: 130 });
      try {
        const progress = await pollOnce(tick);
        options.onProgress?.(progress.done, progress.total);
      } catch (error) {
        // A database or Redis restart while we wait: the work is safe in the queue and the
        // state database; keep waiting rather than abandon the run.
        if (!isTransient(error)) throw error;
      }
      if (finished.size + onHold.size < jobs.length) await sleep(POLL_MS);
    }
    // The objects of rows these sweeps deleted (`cascade:`) go before the run returns; drain
    // jobs this process or a worker runs meanwhile take other entries (never the same).
    if (!options.dryRun) {
      for (const store of new Set(rules.map((r) => runtime.storeFor(r)))) {
        if (isObjectOutbox(store) && (await store.pendingObjects()) > 0) await drainCascades(runtime, store.name);
      }
    }
    const swept: RuleRunResult[] = [];
    for (const { rule, jobId } of jobs) {
      const sweep = finished.get(jobId);
      if (!sweep) continue;
      const joined = started.get(jobId)!.joined;
      // A joined sweep began before this run: its batches may precede the head read above.
      const held = await heldInSweep(runtime.state, sweep.id, joined ? 0 : head);
      swept.push({ rule, sweep, joined, blocked: sweep.blocked, held });
    }
    return { swept, onHold: jobs.flatMap(({ rule, jobId }) => (onHold.has(jobId) ? [{ rule, held: onHold.get(jobId)! }] : [])) };
  } finally {
    await worker.close();
    await queue.close();
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
