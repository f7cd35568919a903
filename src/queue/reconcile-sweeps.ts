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
    // A batch that failed for good (its retries used up while, say, the table was locked
    // for an hour) would otherwise hold its sweep open, and every later sweep of the rule
    // would join it: the rule would stop keeping its promise. Give it another round.
    for (const idx of pending) {
      const job = await queue.getJob(batchJobId(id, idx));
      if (job && (await job.isFailed())) await job.retry('failed');
    }
    await enqueueBatches(queue, id, pending);
    resumed++;
  }
  return resumed;
}
