import { appendAudit } from '../audit/append-audit.js';
import { keyDigest } from '../audit/key-digest.js';
import { rangesFromJson } from '../planner/plan-sweep.js';
import type { Runtime } from '../runtime/runtime.js';
import { completeBatch, countEmptyBatches, lockBatch, readSweepBatch, type SweepRecord, type SweepStatus } from '../state/sweeps.js';
import type { Rule } from '../policy/rule.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import type { SqlClient } from '../state/sql-client.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { exceptHeld, expired } from '../stores/selection.js';
import type { BatchGuard, BatchResult, BatchSpec } from '../stores/store.js';
import { endSweep, supersedeIfOutdated } from './end-sweep.js';
import { describeHold, holdsForRule } from '../people/holds-in-force.js';
import { allowIdleWhileOtherStoreChanges, type HoldRecord } from '../state/holds.js';

export interface BatchOutcome {
  rows: number;
  /** True when the batch did nothing: it was already done, or its sweep has ended. */
  skipped: boolean;
  /** Set when the batch did nothing because its sweep is no longer running. */
  ended?: { status: SweepStatus; reason: string | null; ruleId: string };
  /** Set when the batch queued objects its rows owned (`cascade:`): the store whose outbox to drain. */
  drain?: string;
  /**
   * Set when this batch was its sweep's last: the sweep is done (next-expiry scheduling
   * starts from it). A never-store incident is logged from the sweep's end event, not here.
   */
  finished?: true;
}

/** Thrown for a batch that cannot run however often it is retried. */
export class BatchNotFoundError extends Error {}

/** Thrown inside the batch's transaction when its sweep ended meanwhile: rolls the change back. */
class SweepEndedError extends Error {}

/**
 * Runs one batch exactly once. When the store lives in the state database, the change,
 * the checkpoint and the audit entry are one transaction: a crash anywhere leaves either
 * all three or none, and a retry finds the checkpoint and does nothing.
 *
 * A store elsewhere commits its change first, then the checkpoint and audit entry; a crash
 * between the two commits re-runs the batch, which (the predicate being re-checked) finds
 * nothing left and records 0 rows: the audit then undercounts that batch, never invents.
 *
 * A batch runs only while its sweep does, and only under the definition the sweep was
 * planned with being this process's config's: a sweep whose rule left the config or
 * changed is superseded here, and the batch changes nothing.
 */
export async function executeBatch(runtime: Runtime, sweepId: string, idx: number): Promise<BatchOutcome> {
  const startedAt = performance.now();
  const { state } = runtime;
  const found = await readSweepBatch(state, sweepId, idx);
  const sweep = found?.sweep;
  const batch = found?.batch;
  if (!sweep || !batch) throw new BatchNotFoundError(`batch ${idx} of sweep ${sweepId} is not recorded in ${state.schema}`);
  if (batch.done) return { rows: 0, skipped: true };
  if (sweep.status !== 'running') return endedOutcome(sweep);
  const superseded = await supersedeIfOutdated(runtime, sweep);
  if (superseded) return endedOutcome(superseded);
  // Run the config's own rule object, not the copy the state database holds: the hashes
  // are equal, and what this process executes must come from what it loaded, so an edit
  // of the stored copy cannot change what a batch does.
  const rule = runtime.config.rules.find((r) => r.id === sweep.ruleId && r.hash === sweep.ruleHash);
  if (!rule) throw new Error(`rule ${sweep.ruleId} of sweep ${sweepId} is not in the config with definition ${sweep.ruleHash}`);

  const store = runtime.storeFor(rule);
  const spec: BatchSpec = {
    rule,
    // The selection the sweep was planned with: the ranges recorded at its `now`.
    selection: expired(rangesFromJson(sweep.ranges)),
    keyRange: { after: batch.after, upTo: batch.upTo, ...(batch.partitions ? { partitions: batch.partitions } : {}), ...(batch.outside ? { outside: batch.outside } : {}) },
    dryRun: sweep.dryRun,
    context: runtime.contextFor(rule),
    origin: { sweepId, idx },
  };
  let sweepFinished = false;
  // The sweep as this batch's last change left it (done), for the event reported after the commit.
  let closing = null as SweepRecord | null;
  const applied = (rows: number) => reportApplied(runtime, { sweepId, idx, rule, dryRun: sweep.dryRun, rows, ms: performance.now() - startedAt }, closing);
  const record = async (client: SqlClient, result: BatchResult, evenIfEnded: boolean) => {
    // Digested before anything is written: a raw key must never reach the audit log.
    const skippedRows = result.skipped?.map(({ key, reason }) => {
      if (!runtime.auditKey) {
        throw new Error(
          `batch ${idx} of rule ${sweep.ruleId} left ${result.skipped!.length} row(s) it could not change, and their keys can only be audited as digests: set RETENTION_AUDIT_KEY`,
        );
      }
      return { key: keyDigest(runtime.auditKey, key), reason };
    });
    const { sweep: updated, finished } = await completeBatch(client, state, sweepId, idx, result.rows, { evenIfEnded, held: result.held ?? 0 });
    sweepFinished = finished;
    if (!updated) throw new SweepEndedError(`sweep ${sweepId} ended while batch ${idx} ran`);
    closing = finished ? updated : null;
    const details = {
      ...(result.cascaded && Object.keys(result.cascaded).length > 0 ? { cascaded: result.cascaded } : {}),
      ...(result.ttls !== undefined ? { ttls: result.ttls } : {}),
      ...(result.objects && Object.keys(result.objects).length > 0 ? { objectsQueued: result.objects } : {}),
      ...(skippedRows && skippedRows.length > 0 ? { skippedRows } : {}),
      ...(result.held ? { held: result.held } : {}),
      ...(result.dropped && result.dropped.length > 0 ? { dropped: result.dropped } : {}),
      ...(result.partitionKept && result.partitionKept.length > 0 ? { partitionKept: result.partitionKept } : {}),
    };
    const empty = finished ? await countEmptyBatches(client, state, sweepId) : 0;
    // The audit lock is held until commit, so it is taken last. A batch that changed, kept
    // and skipped nothing writes no entry: the closing entry counts it (`batches.empty`).
    if (result.rows !== 0 || Object.keys(details).length > 0) {
      await appendAudit(client, state, { ...sweepAuditEntry(sweep, 'batch', result.rows, { idx }), ...details });
    }
    if (finished) await appendAudit(client, state, sweepAuditEntry(updated, 'sweep-finished', updated.rowsAffected, undefined, { total: updated.batchesTotal, empty }));
  };

  // Legal holds are read inside the state transaction that records the batch, under the
  // holds lock (shared; `hold add` takes it exclusively), and that transaction commits only
  // after the store's change: a hold committed before it is respected, and a hold being
  // added waits for it (src/state/holds.ts).
  let ruleHold: HoldRecord | null = null;
  const guard = async (client: SqlClient): Promise<BatchGuard | null> => {
    const holds = await holdsForRule(client, state, rule, runtime.config.rules);
    if (holds.ruleHold) {
      ruleHold = holds.ruleHold;
      return null;
    }
    return { held: holds.held };
  };
  const stopHeld = async (hold: HoldRecord): Promise<BatchOutcome> => {
    await endSweep(runtime, sweepId, 'cancelled', `rule ${rule.id} is on legal ${describeHold(hold)}; its sweeps stop until the hold is released`);
    return endedOutcome(await reread(runtime, sweepId, idx));
  };

  if (store.sharesTransactionsWith(runtime.config.state)) {
    let lock = 'run' as Awaited<ReturnType<typeof lockBatch>>;
    try {
      const result = await store.apply(spec, {
        before: async (client) => {
          lock = await lockBatch(client, state, sweepId, idx);
          return lock === 'run' ? guard(client) : null;
        },
        after: (client, result) => record(client, result, false),
      });
      if (ruleHold) return stopHeld(ruleHold);
      if (lock === 'ended') return endedOutcome(await reread(runtime, sweepId, idx));
      if (lock === 'run') applied(result.rows);
      return { rows: result.rows, skipped: lock === 'done', ...drainOf(rule.store, spec, result), ...(sweepFinished ? { finished: true as const } : {}) };
    } catch (error) {
      // The sweep was cancelled or ended while this batch ran: its change rolled back.
      if (error instanceof SweepEndedError) return endedOutcome(await reread(runtime, sweepId, idx));
      throw error;
    }
  }
  // Another database: its change commits on its own, inside the state transaction that
  // holds the batch's lock and the holds lock, then the checkpoint and audit entry commit.
  // A crash between the two commits re-runs the batch, which finds nothing left. The
  // change is recorded even when the sweep ended meanwhile (the rows did change).
  let lock = 'run' as Awaited<ReturnType<typeof lockBatch>>;
  const result = await withTransaction(state.db, async (client) => {
    lock = await lockBatch(client, state, sweepId, idx);
    if (lock !== 'run') return null;
    const holds = await guard(client);
    if (!holds) return null;
    await allowIdleWhileOtherStoreChanges(client);
    const changed = await store.apply({ ...spec, selection: exceptHeld(spec.selection, holds.held) });
    await record(client, changed, true);
    return changed;
  });
  if (ruleHold) return stopHeld(ruleHold);
  if (lock === 'ended') return endedOutcome(await reread(runtime, sweepId, idx));
  if (!result) return { rows: 0, skipped: true };
  applied(result.rows);
  return { rows: result.rows, skipped: false, ...drainOf(rule.store, spec, result), ...(sweepFinished ? { finished: true as const } : {}) };
}

/**
 * Reports a batch whose change and checkpoint committed (src/runtime/sweep-events.ts), and
 * its sweep's end when it was the last: for the worker's metrics and log, after the fact.
 */
function reportApplied(runtime: Runtime, batch: { sweepId: string; idx: number; rule: Rule; dryRun: boolean; rows: number; ms: number }, closing: SweepRecord | null): void {
  const { rule, ...rest } = batch;
  runtime.events.emit({ type: 'batch-applied', ...rest, ruleId: rule.id, store: rule.store, action: rule.action });
  if (closing) runtime.events.emit({ type: 'sweep-ended', sweep: closing });
}

/** The outbox to drain once the batch committed: when its DELETE queued objects (never in a dry run). */
function drainOf(store: string, spec: BatchSpec, result: BatchResult): { drain?: string } {
  const queued = Object.values(result.objects ?? {}).reduce((sum, n) => sum + n, 0);
  return !spec.dryRun && queued > 0 ? { drain: store } : {};
}

function endedOutcome(sweep: { status: SweepStatus; reason: string | null; ruleId: string }): BatchOutcome {
  return { rows: 0, skipped: true, ended: { status: sweep.status, reason: sweep.reason, ruleId: sweep.ruleId } };
}

async function reread(runtime: Runtime, sweepId: string, idx: number): Promise<{ status: SweepStatus; reason: string | null; ruleId: string }> {
  const found = await readSweepBatch(runtime.state, sweepId, idx);
  if (!found) throw new BatchNotFoundError(`sweep ${sweepId} vanished from ${runtime.state.schema}`);
  return found.sweep;
}
