import type { Runtime } from '../runtime/runtime.js';
import { pendingBatches } from '../state/sweeps.js';
import { enqueueBatches, type SweepQueue } from './sweep-queue.js';
import { batchJobId } from './queue-names.js';

/**
 * Re-queues the unfinished batches of every running sweep. The state database, not Redis,
 * is the record of what remains to do: if Redis restarted and lost its queue, this puts
 * the work back; if the jobs are still queued, their fixed ids make this add nothing.
 * Returns how many sweeps had unfinished batches.
 */
export async function reconcileSweeps(runtime: Runtime, queue: SweepQueue): Promise<number> {
  const { rows } = await runtime.state.db.pool.query<{ id: string }>(
    `SELECT id FROM ${runtime.state.table('sweeps')} WHERE status = 'running' ORDER BY created_at`,
  );
  let resumed = 0;
  for (const { id } of rows) {
    const pending = await pendingBatches(runtime.state, id);
    if (pending.length === 0) continue;
    // A batch not done in the state database but whose job has finished would otherwise
    // hold its sweep open, and every later sweep of the rule would join it: the rule would
    // stop keeping its promise. That happens when the job failed for good (retries used up
    // while, say, the table was locked for an hour), or completed but its commit was lost
    // (failover to a lagging replica, a restore). A finished job's id blocks re-adding it,
    // so remove the job and queue the batch afresh. If the batch did commit in between,
    // its checkpoint makes the new job a no-op.
    for (const idx of pending) {
      const job = await queue.getJob(batchJobId(id, idx));
      if (job && ((await job.isFailed()) || (await job.isCompleted()))) await job.remove();
    }
    await enqueueBatches(queue, id, pending);
    resumed++;
  }
  return resumed;
}
