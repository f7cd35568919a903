import { createHash } from 'node:crypto';
import { appendAudit } from '../audit/append-audit.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import { confirmToken, exceedsLimits, tokenAllows } from '../planner/blast-radius.js';
import { planSweep, rangesToJson, type SweepPlan } from '../planner/plan-sweep.js';
import type { Runtime } from '../runtime/runtime.js';
import { findRunningSweep, findSweep, insertSweep, pendingBatches, type NewSweep } from '../state/sweeps.js';
import { withTransaction } from '../stores/postgres/connect.js';
import type { BlockedSweep, SweepJobData, SweepJobResult } from './job-data.js';
import { enqueueBatches, type SweepQueue } from './sweep-queue.js';

/** A sweep's id follows from its job's id, so a retried sweep job finds the sweep it began. */
export function sweepIdFor(jobId: string): string {
  return createHash('sha256').update(jobId).digest('hex').slice(0, 24);
}

const MAX_RACES = 5;

/**
 * Plans a sweep and queues its batches: the state database's `now`, the expired ranges,
 * the blast-radius check, and key ranges of `batchSize` rows, recorded in one transaction
 * before any batch is queued. Safe to repeat: a retried job resumes its own sweep.
 *
 * One sweep per rule at a time is enforced by the database, not by BullMQ deduplication:
 * a unique index over running sweeps decides every race (workers, admins, schedulers,
 * across machines), and it outlives a Redis restart that would forget a dedup key. A
 * trigger that finds the rule sweeping joins that sweep, re-queuing its unfinished
 * batches (which also recovers batches lost with Redis).
 */
export async function startSweep(runtime: Runtime, queue: SweepQueue, jobId: string, data: SweepJobData): Promise<SweepJobResult> {
  const { state } = runtime;
  const sweepId = sweepIdFor(jobId);
  for (let attempt = 0; attempt < MAX_RACES; attempt++) {
    const own = await findSweep(state, sweepId);
    if (own?.blocked) return { sweepId, joined: false, batches: 0, blocked: own.blocked };
    if (own) return resume(runtime, queue, own.id, own.batchesTotal, false);

    const running = await findRunningSweep(state, data.rule.id, data.dryRun);
    if (running) return resume(runtime, queue, running.id, running.batchesTotal, true);

    const now = (await state.db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const plan = planSweep(data.rule, now);
    const blocked = await checkLimits(runtime, data, plan);
    const batches = blocked ? [] : await runtime.storeFor(data.rule).partition(data.rule);
    const sweep: NewSweep = {
      id: sweepId,
      rule: data.rule,
      configHash: data.configHash,
      dryRun: data.dryRun,
      actor: data.actor,
      trigger: data.trigger,
      now,
      ranges: rangesToJson(plan.ranges),
      batches,
      status: blocked ? 'blocked' : 'running',
      confirmToken: blocked ? null : (data.confirm ?? null),
      blocked,
    };
    const inserted = await withTransaction(state.db, async (client) => {
      if (!(await insertSweep(client, state, sweep))) return false;
      if (blocked) {
        const record = { ...sweep, ruleId: data.rule.id, status: 'blocked' as const, batchesTotal: 0, batchesDone: 0, rowsAffected: 0 };
        await appendAudit(client, state, sweepAuditEntry(record, data.rule.store, 'blocked', blocked.affected));
      }
      return true;
    });
    if (inserted && blocked) return { sweepId, joined: false, batches: 0, blocked };
    if (inserted) return resume(runtime, queue, sweepId, batches.length, false);
    // Lost a race with another trigger of the same rule: go round and join it.
  }
  throw new Error(`could not start or join a sweep of rule ${data.rule.id} after ${MAX_RACES} attempts`);
}

/**
 * The blast-radius interlock: counts what the sweep would change and how big the table is,
 * and stops a sweep over the rule's limits unless `--confirm` covers it. Dry runs change
 * nothing and are never blocked; limits that cannot be exceeded skip the counting.
 */
async function checkLimits(runtime: Runtime, data: SweepJobData, plan: SweepPlan): Promise<BlockedSweep | null> {
  const { rule } = data;
  if (data.dryRun || (rule.limits.maxRowsPerRun === null && rule.limits.maxFraction >= 1)) return null;
  const store = runtime.storeFor(rule);
  const affected = await store.count(rule, plan.ranges, runtime.contextFor(rule));
  const total = await store.total(rule);
  const reason = exceedsLimits(rule.limits, affected, total);
  if (reason === null) return null;
  if (data.confirm !== undefined && tokenAllows(data.confirm, rule.id, data.configHash, affected)) return null;
  return {
    affected,
    total,
    reason: data.confirm === undefined ? reason : `${reason}; the --confirm token given does not cover it (it was for fewer rows or another config)`,
    confirmToken: confirmToken(rule.id, data.configHash, affected),
  };
}

async function resume(runtime: Runtime, queue: SweepQueue, sweepId: string, total: number, joined: boolean): Promise<SweepJobResult> {
  await enqueueBatches(queue, sweepId, await pendingBatches(runtime.state, sweepId));
  return { sweepId, joined, batches: total };
}
