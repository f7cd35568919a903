import type { Runtime } from '../runtime/runtime.js';
import { listSweeps, pendingBatches, type SweepRecord } from '../state/sweeps.js';
import { endSweep, supersedeIfOutdated, type EndedSweep } from '../executor/end-sweep.js';
import { enqueueBatches, type SweepQueue } from './sweep-queue.js';
import { batchJobId } from './queue-names.js';

export interface ReconcileResult {
  /** Running sweeps whose unfinished batches were (re-)queued. */
  resumed: number;
  /** Running sweeps ended here: superseded (rule gone or changed) or failed (a batch failed for good). */
  ended: EndedSweep[];
}

/**
 * Re-queues the unfinished batches of every running sweep. The state database, not Redis,
 * is the record of what remains to do: if Redis restarted and lost its queue, this puts
 * the work back; if the jobs are still queued, their fixed ids make this add nothing.
 * A sweep whose rule left this process's config or changed is superseded instead, and
 * one with a batch that failed for good ends as failed: neither is re-queued.
 */
export async function reconcileSweeps(runtime: Runtime, queue: SweepQueue): Promise<ReconcileResult> {
  const result: ReconcileResult = { resumed: 0, ended: [] };
  for (const sweep of await listSweeps(runtime.state, { status: 'running' })) {
    const settled = await settleSweep(runtime, queue, sweep);
    if (settled === 'resumed') result.resumed++;
    else if (settled) result.ended.push(settled);
  }
  return result;
}

/**
 * One running sweep: superseded when its definition is no longer this config's; failed
 * when a batch's job failed for good (retries used up, or an unrecoverable error), so the
 * rule is free for a fresh sweep; else its unfinished batches are queued again. Returns
 * the end, 'resumed' when batches were queued, or null when none remained.
 */
export async function settleSweep(runtime: Runtime, queue: SweepQueue, sweep: SweepRecord): Promise<EndedSweep | 'resumed' | null> {
  const superseded = await supersedeIfOutdated(runtime, sweep);
  if (superseded) return superseded;
  const pending = await pendingBatches(runtime.state, sweep.id);
  if (pending.length === 0) return null;
  for (const idx of pending) {
    const job = await queue.getJob(batchJobId(sweep.id, idx));
    if (!job) continue;
    if (await job.isFailed()) {
      // The batch job normally ends its sweep itself; this covers a process that died
      // between the job failing and the sweep being marked.
      const reason = `batch ${idx} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`;
      const ended = await endSweep(runtime, sweep.id, 'failed', reason);
      return ended ?? null;
    }
    // A batch not done in the state database but whose job completed: its commit was lost
    // (failover to a lagging replica, a restore). A finished job's id blocks re-adding it,
    // so remove the job and queue the batch afresh; if the batch did commit in between,
    // its checkpoint makes the new job a no-op.
    if (await job.isCompleted()) await job.remove();
  }
  await enqueueBatches(queue, sweep.id, pending);
  return 'resumed';
}
