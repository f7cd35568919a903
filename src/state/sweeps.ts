import type pg from 'pg';
import type { Rule } from '../policy/rule.js';
import type { BlockedSweep } from '../queue/job-data.js';
import type { KeyRange } from '../stores/store.js';
import type { StateDb } from './state-db.js';

/** A sweep as the state database records it. */
export interface SweepRecord {
  id: string;
  ruleId: string;
  configHash: string;
  rule: Rule;
  dryRun: boolean;
  actor: string;
  trigger: string;
  now: Date;
  ranges: { from: string | null; to: string }[];
  status: 'running' | 'done' | 'blocked';
  confirmToken: string | null;
  blocked: BlockedSweep | null;
  batchesTotal: number;
  batchesDone: number;
  rowsAffected: number;
}

export interface NewSweep {
  id: string;
  rule: Rule;
  configHash: string;
  dryRun: boolean;
  actor: string;
  trigger: string;
  now: Date;
  ranges: { from: string | null; to: string }[];
  batches: KeyRange[];
  /** 'blocked': over its limits; recorded for the audit trail, with no batches. */
  status: 'running' | 'blocked';
  confirmToken: string | null;
  blocked: BlockedSweep | null;
}

const SWEEP_COLUMNS = `id, rule_id, config_hash, rule, dry_run, actor, trigger, now, ranges, status, confirm_token, blocked, batches_total, batches_done, rows_affected`;

function toRecord(row: Record<string, unknown>): SweepRecord {
  return {
    id: row.id as string,
    ruleId: row.rule_id as string,
    configHash: row.config_hash as string,
    rule: row.rule as Rule,
    dryRun: row.dry_run as boolean,
    actor: row.actor as string,
    trigger: row.trigger as string,
    now: row.now as Date,
    ranges: row.ranges as SweepRecord['ranges'],
    status: row.status as SweepRecord['status'],
    confirmToken: (row.confirm_token as string | null) ?? null,
    blocked: (row.blocked as BlockedSweep | null) ?? null,
    batchesTotal: Number(row.batches_total),
    batchesDone: Number(row.batches_done),
    rowsAffected: Number(row.rows_affected),
  };
}

export async function findSweep(state: StateDb, id: string): Promise<SweepRecord | null> {
  const { rows } = await state.db.pool.query(`SELECT ${SWEEP_COLUMNS} FROM ${state.table('sweeps')} WHERE id = $1`, [id]);
  return rows[0] ? toRecord(rows[0]) : null;
}

/** The running sweep of a rule (real or dry), if any. */
export async function findRunningSweep(state: StateDb, ruleId: string, dryRun: boolean): Promise<SweepRecord | null> {
  const { rows } = await state.db.pool.query(
    `SELECT ${SWEEP_COLUMNS} FROM ${state.table('sweeps')} WHERE rule_id = $1 AND dry_run = $2 AND status = 'running'`,
    [ruleId, dryRun],
  );
  return rows[0] ? toRecord(rows[0]) : null;
}

/**
 * Records a planned sweep and all its batches in one transaction. Returns false, changing
 * nothing, when the rule already has a running sweep: the unique index decides races
 * between workers and admins, so two sweeps of one rule never run at once.
 */
export async function insertSweep(client: pg.ClientBase, state: StateDb, sweep: NewSweep): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO ${state.table('sweeps')} (id, rule_id, config_hash, rule, dry_run, actor, trigger, now, ranges, status, confirm_token, blocked, batches_total, finished_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $10 = 'blocked' THEN now() END)
     ON CONFLICT (rule_id, dry_run) WHERE status = 'running' DO NOTHING`,
    [sweep.id, sweep.rule.id, sweep.configHash, JSON.stringify(sweep.rule), sweep.dryRun, sweep.actor, sweep.trigger, sweep.now, JSON.stringify(sweep.ranges), sweep.status, sweep.confirmToken, sweep.blocked && JSON.stringify(sweep.blocked), sweep.batches.length],
  );
  if (inserted.rowCount === 0) return false;
  await client.query(
    `INSERT INTO ${state.table('batches')} (sweep_id, idx, after_key, up_to_key)
     SELECT $1, ord - 1, after_key, up_to_key FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS b(after_key, up_to_key, ord)`,
    [sweep.id, sweep.batches.map((b) => b.after), sweep.batches.map((b) => b.upTo)],
  );
  return true;
}

/** Indexes of batches not yet done, for (re-)enqueueing. */
export async function pendingBatches(state: StateDb, sweepId: string): Promise<number[]> {
  const { rows } = await state.db.pool.query<{ idx: number }>(
    `SELECT idx FROM ${state.table('batches')} WHERE sweep_id = $1 AND NOT done ORDER BY idx`,
    [sweepId],
  );
  return rows.map((r) => r.idx);
}

/**
 * A batch and the sweep it belongs to, in one round trip: what a batch job reads before it
 * runs. Null when the sweep is not recorded; `batch` null when it has no such batch.
 */
export async function readSweepBatch(
  state: StateDb,
  sweepId: string,
  idx: number,
): Promise<{ sweep: SweepRecord; batch: (KeyRange & { done: boolean }) | null } | null> {
  const { rows } = await state.db.pool.query(
    `SELECT ${SWEEP_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}, b.after_key, b.up_to_key, b.done AS batch_done, b.idx AS batch_idx
       FROM ${state.table('sweeps')} s LEFT JOIN ${state.table('batches')} b ON b.sweep_id = s.id AND b.idx = $2
      WHERE s.id = $1`,
    [sweepId, idx],
  );
  const row = rows[0];
  if (!row) return null;
  const batch = row.batch_idx === null ? null : { after: row.after_key as string | null, upTo: row.up_to_key as string | null, done: row.batch_done as boolean };
  return { sweep: toRecord(row), batch };
}

/** Locks the batch row; true when it is already done (a retried or duplicate job). */
export async function lockBatch(client: pg.ClientBase, state: StateDb, sweepId: string, idx: number): Promise<boolean> {
  const { rows } = await client.query<{ done: boolean }>(
    `SELECT done FROM ${state.table('batches')} WHERE sweep_id = $1 AND idx = $2 FOR UPDATE`,
    [sweepId, idx],
  );
  if (!rows[0]) throw new Error(`batch ${idx} of sweep ${sweepId} is not recorded`);
  return rows[0].done;
}

/**
 * Marks a batch done and adds it to its sweep. Returns the sweep when this was its last
 * batch (and marks it done), so the caller can write the closing audit entry.
 */
export async function completeBatch(
  client: pg.ClientBase,
  state: StateDb,
  sweepId: string,
  idx: number,
  rows: number,
): Promise<SweepRecord | null> {
  // One statement, one round trip: the batch's checkpoint and its sweep's counters.
  const updated = await client.query(
    `WITH batch AS (
       UPDATE ${state.table('batches')} SET done = true, rows = $3, done_at = now() WHERE sweep_id = $1 AND idx = $2
     )
     UPDATE ${state.table('sweeps')}
        SET batches_done = batches_done + 1, rows_affected = rows_affected + $3,
            status = CASE WHEN batches_done + 1 >= batches_total THEN 'done' ELSE status END,
            finished_at = CASE WHEN batches_done + 1 >= batches_total THEN now() END
      WHERE id = $1
      RETURNING ${SWEEP_COLUMNS}`,
    [sweepId, idx, rows],
  );
  const sweep = toRecord(updated.rows[0]!);
  return sweep.status === 'done' ? sweep : null;
}
