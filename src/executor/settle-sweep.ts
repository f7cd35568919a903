import type { Runtime } from '../runtime/runtime.js';
import { pendingBatches, type SweepRecord } from '../state/sweeps.js';
import { endSweep, supersedeIfOutdated, type EndedSweep } from './end-sweep.js';

/** What the transport knows of one batch's job: failed for good (and why), completed, or anything else. */
export type BatchJobState = { failed: { attempts: number; reason: string } } | 'completed' | 'other';

/** What settling a running sweep decided; the queue layer carries it out. */
export type Settlement =
  /** The sweep ended here (superseded, or failed because a batch failed for good). */
  | { ended: EndedSweep }
  /**
   * The sweep goes on: `requeue` are its unfinished batches; `stale` those whose job
   * completed although the batch is not done (its commit was lost), to remove first.
   */
  | { requeue: number[]; stale: number[] }
  | null;

/**
 * One running sweep, judged from the state database and what the transport says of its
 * batch jobs: superseded when its definition is no longer this config's; failed when a
 * batch's job failed for good (retries used up, or an unrecoverable error), so the rule
 * is free for a fresh sweep; else its unfinished batches are to be queued again. Null
 * when it has no unfinished batch (or ended meanwhile).
 */
export async function settleSweep(runtime: Runtime, sweep: SweepRecord, jobState: (idx: number) => Promise<BatchJobState>): Promise<Settlement> {
  const superseded = await supersedeIfOutdated(runtime, sweep);
  if (superseded) return { ended: superseded };
  const pending = await pendingBatches(runtime.state, sweep.id);
  if (pending.length === 0) return null;
  const stale: number[] = [];
  for (const idx of pending) {
    const state = await jobState(idx);
    if (typeof state === 'object') {
      // The batch job normally ends its sweep itself; this covers a process that died
      // between the job failing and the sweep being marked.
      const ended = await endSweep(runtime, sweep.id, 'failed', `batch ${idx} failed after ${state.failed.attempts} attempt(s): ${state.failed.reason}`);
      return ended ? { ended } : null;
    }
    // A batch not done in the state database but whose job completed: its commit was lost
    // (failover to a lagging replica, a restore). Its job goes and the batch is queued
    // afresh; if the batch did commit in between, its checkpoint makes the new job a no-op.
    if (state === 'completed') stale.push(idx);
  }
  return { requeue: pending, stale };
}
