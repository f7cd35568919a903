import type { Runtime } from '../runtime/runtime.js';
import { listSweeps, type SweepRecord } from '../state/sweeps.js';
import type { EndedSweep } from '../executor/end-sweep.js';
import { settleSweep as settle, type BatchJobState } from '../executor/settle-sweep.js';
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
 * One running sweep, settled by the executor (`settleSweep`) from what this queue says of
 * its batch jobs; the queue then carries out the decision: removes completed jobs of
 * batches not done, and (re-)queues the unfinished batches. Returns the end, 'resumed'
 * when batches were queued, or null when none remained.
 */
export async function settleSweep(runtime: Runtime, queue: SweepQueue, sweep: SweepRecord): Promise<EndedSweep | 'resumed' | null> {
  const settled = await settle(runtime, sweep, async (idx): Promise<BatchJobState> => {
    const job = await queue.getJob(batchJobId(sweep.id, idx));
    if (!job) return 'other';
    if (await job.isFailed()) return { failed: { attempts: job.attemptsMade, reason: job.failedReason } };
    return (await job.isCompleted()) ? 'completed' : 'other';
  });
  if (settled === null) return null;
  if ('ended' in settled) return settled.ended;
  // A finished job's id blocks re-adding it, so it goes before the batch is queued afresh.
  for (const idx of settled.stale) await (await queue.getJob(batchJobId(sweep.id, idx)))?.remove();
  await enqueueBatches(queue, sweep.id, settled.requeue);
  return 'resumed';
}
