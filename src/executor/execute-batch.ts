import type pg from 'pg';
import { appendAudit } from '../audit/append-audit.js';
import { rangesFromJson } from '../planner/plan-sweep.js';
import type { Runtime } from '../runtime/runtime.js';
import { completeBatch, lockBatch, readSweepBatch } from '../state/sweeps.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import { withTransaction } from '../stores/postgres/connect.js';
import type { BatchResult } from '../stores/store.js';

export interface BatchOutcome {
  rows: number;
  /** True when the batch was already done (a duplicate or retried job): nothing ran. */
  skipped: boolean;
}

/** Thrown for a batch that cannot run however often it is retried. */
export class BatchNotFoundError extends Error {}

/**
 * Runs one batch exactly once. When the store lives in the state database, the change,
 * the checkpoint and the audit entry are one transaction: a crash anywhere leaves either
 * all three or none, and a retry finds the checkpoint and does nothing.
 *
 * A store elsewhere commits its change first, then the checkpoint and audit entry; a crash
 * between the two commits re-runs the batch, which (the predicate being re-checked) finds
 * nothing left and records 0 rows: the audit then undercounts that batch, never invents.
 */
export async function executeBatch(runtime: Runtime, sweepId: string, idx: number): Promise<BatchOutcome> {
  const { state } = runtime;
  const found = await readSweepBatch(state, sweepId, idx);
  const sweep = found?.sweep;
  const batch = found?.batch;
  if (!sweep || !batch) throw new BatchNotFoundError(`batch ${idx} of sweep ${sweepId} is not recorded in ${state.schema}`);
  if (batch.done) return { rows: 0, skipped: true };

  const store = runtime.storeFor(sweep.rule);
  const spec = {
    rule: sweep.rule,
    ranges: rangesFromJson(sweep.ranges),
    keyRange: { after: batch.after, upTo: batch.upTo },
    dryRun: sweep.dryRun,
    context: runtime.contextFor(sweep.rule),
  };
  const record = async (client: pg.ClientBase, { rows }: BatchResult) => {
    const finished = await completeBatch(client, state, sweepId, idx, rows);
    // The audit lock is held until commit, so it is taken last.
    await appendAudit(client, state, sweepAuditEntry(sweep, store.name, 'batch', rows, { idx, keyRange: spec.keyRange }));
    if (finished) await appendAudit(client, state, sweepAuditEntry(finished, store.name, 'sweep-finished', finished.rowsAffected));
  };

  let skipped = false;
  if (store.sharesTransactionsWith(state.db)) {
    const result = await store.apply(spec, {
      before: async (client) => {
        skipped = await lockBatch(client, state, sweepId, idx);
        return !skipped;
      },
      after: record,
    });
    return { rows: result.rows, skipped };
  }
  const result = await store.apply(spec);
  await withTransaction(state.db, async (client) => {
    skipped = await lockBatch(client, state, sweepId, idx);
    if (!skipped) await record(client, result);
  });
  return { rows: result.rows, skipped };
}
