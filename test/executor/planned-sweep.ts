import type { TestEnv } from '../helpers/test-env.js';
import type { Config } from '../../src/policy/config.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { startSweep } from '../../src/executor/start-sweep.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';
import { enqueueBatches, openQueue } from '../../src/queue/sweep-queue.js';
import { findSweep, type SweepRecord } from '../../src/state/sweeps.js';

/**
 * Plans a sweep of the config's first rule the way a sweep job does (state database's
 * `now`, ranges, key-range batches, recorded before anything runs) but runs none of its
 * batches: no worker listens on the env's prefix, so the test calls `executeBatch` itself.
 */
export async function plannedSweep(env: TestEnv, config: Config, runtime: Runtime, options: { dryRun?: boolean } = {}): Promise<SweepRecord> {
  const rule = config.rules[0]!;
  const queue = openQueue(env.redis(), env.prefix);
  try {
    const { jobId, data } = await recordManualTrigger(runtime.state, rule, { actor: 'test', dryRun: options.dryRun ?? false });
    const { result: started, enqueue } = await startSweep(runtime, jobId, data);
    // As the sweep job does: its batches are queued (no worker listens on this prefix).
    if (enqueue) await enqueueBatches(queue, enqueue.sweepId, enqueue.batches);
    if (started.blocked) throw new Error(`sweep of ${rule.id} was blocked: ${started.blocked.reason}`);
    const sweep = await findSweep(runtime.state, started.sweepId);
    if (!sweep) throw new Error(`sweep ${started.sweepId} was not recorded`);
    return sweep;
  } finally {
    await queue.close();
  }
}

/** The audit entries of one sweep, in chain order. */
export async function auditOf(env: TestEnv, sweepId: string): Promise<{ event: string; rows: number; batch?: number; dryRun: boolean }[]> {
  const rows = await env.sql<{ entry: { event: string; rows: number; batch?: number; dryRun: boolean } }>(
    `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`,
    [sweepId],
  );
  return rows.map((r) => r.entry);
}
