import { createHash } from 'node:crypto';
import { planSweep, rangesToJson } from '../planner/plan-sweep.js';
import type { Runtime } from '../runtime/runtime.js';
import { findRunningSweep, findSweep, insertSweep, pendingBatches } from '../state/sweeps.js';
import { withTransaction } from '../stores/postgres/connect.js';
import type { SweepJobData, SweepJobResult } from './job-data.js';
import { enqueueBatches, type SweepQueue } from './sweep-queue.js';

/** A sweep's id follows from its job's id, so a retried sweep job finds the sweep it began. */
export function sweepIdFor(jobId: string): string {
  return createHash('sha256').update(jobId).digest('hex').slice(0, 24);
}

const MAX_RACES = 5;

/**
 * Plans a sweep and queues its batches: the state database's `now`, the expired ranges,
 * and key ranges of `batchSize` rows, recorded in one transaction before any batch is
 * queued. Safe to repeat: a retried job resumes its own sweep; a trigger that finds the
 * rule already sweeping joins that sweep (re-queuing its unfinished batches, which also
 * recovers batches lost with a Redis restart) instead of starting a second one.
 */
export async function startSweep(runtime: Runtime, queue: SweepQueue, jobId: string, data: SweepJobData): Promise<SweepJobResult> {
  const { state } = runtime;
  const sweepId = sweepIdFor(jobId);
  for (let attempt = 0; attempt < MAX_RACES; attempt++) {
    const own = await findSweep(state, sweepId);
    if (own) return resume(runtime, queue, own.id, own.batchesTotal, false);

    const running = await findRunningSweep(state, data.rule.id, data.dryRun);
    if (running) return resume(runtime, queue, running.id, running.batchesTotal, true);

    const now = (await state.db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const plan = planSweep(data.rule, now);
    const batches = await runtime.storeFor(data.rule).partition(data.rule);
    const inserted = await withTransaction(state.db, (client) =>
      insertSweep(client, state, {
        id: sweepId,
        rule: data.rule,
        configHash: data.configHash,
        dryRun: data.dryRun,
        actor: data.actor,
        trigger: data.trigger,
        now,
        ranges: rangesToJson(plan.ranges),
        batches,
      }),
    );
    // Lost a race with another trigger of the same rule: go round and join it.
    if (inserted) return resume(runtime, queue, sweepId, batches.length, false);
  }
  throw new Error(`could not start or join a sweep of rule ${data.rule.id} after ${MAX_RACES} attempts`);
}

async function resume(runtime: Runtime, queue: SweepQueue, sweepId: string, total: number, joined: boolean): Promise<SweepJobResult> {
  await enqueueBatches(queue, sweepId, await pendingBatches(runtime.state, sweepId));
  return { sweepId, joined, batches: total };
}
