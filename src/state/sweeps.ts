import { ACTIONS, persistRule, readPersistedRule, type Action, type Rule } from '../policy/rule.js';
import type { KeyRange, PartitionRef } from '../stores/store.js';
import type { SqlClient } from './sql-client.js';
import type { StateDb } from './state-db.js';

/** A sweep stopped by its blast-radius limits before touching anything. */
export interface BlockedSweep {
  /** What the limits judged: the rule's rows, rows cascading through foreign keys and objects the rows own (`limitedCount`). */
  affected: number;
  /**
   * Of `affected`, the rule's own rows (or items), e.g. what a never-store incident found;
   * absent on sweeps blocked before it was recorded.
   */
  rows?: number;
  total: number;
  reason: string;
  /** Pass as `--confirm` to allow this sweep (and any not bigger). */
  confirmToken: string;
}

/**
 * What audit entries say about a sweep's rule, whatever version planned it: read from the
 * rule when it has the current shape, else from the few display fields of the old one.
 */
export interface SweepRuleSummary {
  source: string | null;
  store: string;
  /** What the store showed for the rule's target ("public.logs", "session:*"). */
  target: string;
  /** Null when an older row's action cannot be read. */
  action: Action | null;
}

/** A sweep as the state database records it. */
export interface SweepRecord {
  id: string;
  ruleId: string;
  configHash: string;
  /**
   * The rule as planned, or null when an older version wrote it (no shape version): its
   * definition cannot be compared with today's rules, and such a sweep is superseded.
   */
  rule: Rule | null;
  summary: SweepRuleSummary;
  dryRun: boolean;
  actor: string;
  trigger: string;
  now: Date;
  ranges: { from: string | null; to: string }[];
  status: SweepStatus;
  confirmToken: string | null;
  blocked: BlockedSweep | null;
  batchesTotal: number;
  batchesDone: number;
  rowsAffected: number;
  /** Items its batches kept because their subject is on legal hold (0 for sweeps recorded before this was). */
  rowsHeld: number;
  /** The rule's definition hash when planned (null only for sweeps planned before hashes existed). */
  ruleHash: string | null;
  /** The trigger row of a manual sweep; null for a scheduled one. */
  triggerId: string | null;
  /** Why it ended superseded, failed or cancelled. */
  reason: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  /**
   * How late the sweep was, when planned, for the oldest expired item still present (ms;
   * 0 when none was), carried by its closing audit entry. Null when the store cannot tell
   * and for sweeps planned before it was recorded.
   */
  lagMs?: number | null;
}

/**
 * `running` until every batch is `done`; `blocked` over its limits (touched nothing);
 * `superseded` when its rule left the config or changed, `failed` when a batch failed for
 * good, `cancelled` by an admin: those three end it early, and its remaining batches do nothing.
 */
export type SweepStatus = 'running' | 'done' | 'blocked' | EndedStatus;

/** How a sweep ends before its last batch. */
export type EndedStatus = 'superseded' | 'failed' | 'cancelled';

export const SWEEP_STATUSES: readonly SweepStatus[] = ['running', 'done', 'blocked', 'superseded', 'failed', 'cancelled'];

export interface NewSweep {
  id: string;
  rule: Rule;
  /** The store's description of the rule's target, for audit entries. */
  target: string;
  configHash: string;
  dryRun: boolean;
  actor: string;
  trigger: string;
  now: Date;
  ranges: { from: string | null; to: string }[];
  batches: KeyRange[];
  /**
   * 'blocked': over its limits; 'done': nothing to do (no batches): recorded for the audit
   * trail, with no batches, and ended at once.
   */
  status: 'running' | 'blocked' | 'done';
  confirmToken: string | null;
  blocked: BlockedSweep | null;
  triggerId: string | null;
  /** The lag when planned (`SweepRecord.lagMs`); null or absent when the store cannot tell. */
  lagMs?: number | null;
}

const SWEEP_COLUMNS = `id, rule_id, config_hash, rule, target, dry_run, actor, trigger, now, ranges, status, confirm_token, blocked, batches_total, batches_done, rows_affected, rule_hash, trigger_id, reason, created_at, finished_at, lag_ms, rows_held`;

function toRecord(row: Record<string, unknown>): SweepRecord {
  const rule = readPersistedRule(row.rule);
  return {
    id: row.id as string,
    ruleId: row.rule_id as string,
    configHash: row.config_hash as string,
    rule,
    summary: rule
      ? { source: rule.source, store: rule.store, target: typeof row.target === 'string' ? row.target : '', action: rule.action }
      : legacySummary(row.rule),
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
    rowsHeld: Number(row.rows_held ?? 0),
    ruleHash: (row.rule_hash as string | null) ?? null,
    triggerId: (row.trigger_id as string | null) ?? null,
    reason: (row.reason as string | null) ?? null,
    createdAt: row.created_at as Date,
    finishedAt: (row.finished_at as Date | null) ?? null,
    lagMs: row.lag_ms === null || row.lag_ms === undefined ? null : Number(row.lag_ms),
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
export async function insertSweep(client: SqlClient, state: StateDb, sweep: NewSweep): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO ${state.table('sweeps')} (id, rule_id, config_hash, rule, dry_run, actor, trigger, now, ranges, status, confirm_token, blocked, batches_total, finished_at, rule_hash, trigger_id, target, lag_ms)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, CASE WHEN $10 <> 'running' THEN now() END, $14, $15, $16, $17)
     ON CONFLICT (rule_id, dry_run) WHERE status = 'running' DO NOTHING`,
    [
      sweep.id,
      sweep.rule.id,
      sweep.configHash,
      // With its shape version, so that a later version can tell it from its own.
      JSON.stringify(persistRule(sweep.rule)),
      sweep.dryRun,
      sweep.actor,
      sweep.trigger,
      sweep.now,
      JSON.stringify(sweep.ranges),
      sweep.status,
      sweep.confirmToken,
      sweep.blocked && JSON.stringify(sweep.blocked),
      sweep.batches.length,
      sweep.rule.hash,
      sweep.triggerId,
      sweep.target,
      sweep.lagMs ?? null,
    ],
  );
  if (inserted.rowCount === 0) return false;
  await client.query(
    `INSERT INTO ${state.table('batches')} (sweep_id, idx, after_key, up_to_key, partition, outside)
     SELECT $1, ord - 1, after_key, up_to_key, partition::jsonb, outside::jsonb
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS b(after_key, up_to_key, partition, outside, ord)`,
    [
      sweep.id,
      sweep.batches.map((b) => b.after),
      sweep.batches.map((b) => b.upTo),
      sweep.batches.map((b) => (b.partitions ? JSON.stringify(b.partitions.map((p) => ({ name: p.name, bound: p.bound }))) : null)),
      sweep.batches.map((b) => (b.outside ? JSON.stringify({ column: b.outside.column, ranges: b.outside.ranges }) : null)),
    ],
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
    `SELECT ${SWEEP_COLUMNS.split(', ').map((c) => `s.${c}`).join(', ')}, b.after_key, b.up_to_key, b.partition AS batch_partition, b.outside AS batch_outside, b.done AS batch_done, b.idx AS batch_idx
       FROM ${state.table('sweeps')} s LEFT JOIN ${state.table('batches')} b ON b.sweep_id = s.id AND b.idx = $2
      WHERE s.id = $1`,
    [sweepId, idx],
  );
  const row = rows[0];
  if (!row) return null;
  // A drop batch's partitions (one object: recorded before drop batches were grouped).
  const recorded = row.batch_partition as PartitionRef[] | PartitionRef | null;
  const partitions = recorded === null ? null : Array.isArray(recorded) ? recorded : [recorded];
  const outside = row.batch_outside as KeyRange['outside'] | null;
  const batch =
    row.batch_idx === null
      ? null
      : {
          after: row.after_key as string | null,
          upTo: row.up_to_key as string | null,
          ...(partitions ? { partitions } : {}),
          ...(outside ? { outside } : {}),
          done: row.batch_done as boolean,
        };
  return { sweep: toRecord(row), batch };
}

/**
 * Locks the batch row and says whether to run it: `done` for a retried or duplicate job,
 * `ended` when its sweep is no longer running (superseded, failed or cancelled), `run`.
 */
export async function lockBatch(client: SqlClient, state: StateDb, sweepId: string, idx: number): Promise<'run' | 'done' | 'ended'> {
  const { rows } = await client.query<{ done: boolean; status: SweepStatus }>(
    `SELECT b.done, s.status FROM ${state.table('batches')} b JOIN ${state.table('sweeps')} s ON s.id = b.sweep_id
      WHERE b.sweep_id = $1 AND b.idx = $2 FOR UPDATE OF b`,
    [sweepId, idx],
  );
  if (!rows[0]) throw new Error(`batch ${idx} of sweep ${sweepId} is not recorded`);
  if (rows[0].done) return 'done';
  return rows[0].status === 'running' ? 'run' : 'ended';
}

/**
 * Marks a batch done and adds it to its sweep, only while the sweep is running unless
 * `evenIfEnded` (a change already committed in another database must be recorded).
 * `sweep` is the sweep after the update, null when it had ended (nothing was recorded);
 * `finished` when this was its last batch (it is now done), so the caller can write the
 * closing audit entry.
 */
export async function completeBatch(
  client: SqlClient,
  state: StateDb,
  sweepId: string,
  idx: number,
  rows: number,
  options: { evenIfEnded?: boolean; held?: number } = {},
): Promise<{ sweep: SweepRecord | null; finished: boolean }> {
  // One statement, one round trip: the batch's checkpoint and its sweep's counters. An
  // UPDATE waits for a concurrent cancel and re-reads the row, so `status = 'running'`
  // here is decided after any end committed before this batch.
  const updated = await client.query(
    `WITH sweep AS (
       UPDATE ${state.table('sweeps')}
          SET batches_done = batches_done + 1, rows_affected = rows_affected + $3, rows_held = rows_held + $5,
              status = CASE WHEN status = 'running' AND batches_done + 1 >= batches_total THEN 'done' ELSE status END,
              finished_at = CASE WHEN status = 'running' AND batches_done + 1 >= batches_total THEN now() ELSE finished_at END
        WHERE id = $1 AND (status = 'running' OR $4)
        RETURNING ${SWEEP_COLUMNS}
     ), batch AS (
       UPDATE ${state.table('batches')} SET done = true, rows = $3, done_at = now()
        WHERE sweep_id = $1 AND idx = $2 AND EXISTS (SELECT 1 FROM sweep)
     )
     SELECT * FROM sweep`,
    [sweepId, idx, rows, options.evenIfEnded ?? false, options.held ?? 0],
  );
  const row = updated.rows[0];
  if (!row) return { sweep: null, finished: false };
  const sweep = toRecord(row);
  // The last batch (or one recorded after its sweep ended): the key bounds go now.
  if (sweep.status !== 'running') await clearKeyBounds(client, state, sweepId);
  return { sweep, finished: sweep.status === 'done' };
}

/** Batches of a sweep recorded done with 0 rows: for its closing audit entry. */
export async function countEmptyBatches(client: SqlClient, state: StateDb, sweepId: string): Promise<number> {
  const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${state.table('batches')} WHERE sweep_id = $1 AND done AND rows = 0`, [sweepId]);
  return Number(rows[0]!.n);
}

/**
 * Clears the key bounds of every batch of a sweep that has ended (done, blocked,
 * superseded, failed, cancelled): call it in the transaction that ends the sweep. Bounds
 * are row keys, and a key column can hold personal data (`key: email`); they are needed
 * only while the sweep runs. Afterwards a batch is known by its position.
 *
 * NULL bounds mean "open" to a batch, so they are never visible with a running status:
 * nothing is cleared while the sweep (as this transaction sees it) is still running, and
 * the executor runs a batch only while its sweep is running. Returns the batches cleared.
 */
export async function clearKeyBounds(client: SqlClient, state: StateDb, sweepId: string): Promise<number> {
  const cleared = await client.query(
    `UPDATE ${state.table('batches')} b SET after_key = NULL, up_to_key = NULL
       FROM ${state.table('sweeps')} s
      WHERE b.sweep_id = $1 AND s.id = b.sweep_id AND s.status <> 'running'
        AND (b.after_key IS NOT NULL OR b.up_to_key IS NOT NULL)`,
    [sweepId],
  );
  return cleared.rowCount ?? 0;
}

/**
 * Ends a running sweep early (superseded, failed, cancelled), with the reason. Returns the
 * sweep as ended, or null when it was not running (it had finished or ended already), so
 * exactly one caller audits the end.
 */
export async function markSweepEnded(
  client: SqlClient,
  state: StateDb,
  sweepId: string,
  status: EndedStatus,
  reason: string,
): Promise<SweepRecord | null> {
  const { rows } = await client.query(
    `UPDATE ${state.table('sweeps')} SET status = $2, reason = $3, finished_at = now()
      WHERE id = $1 AND status = 'running' RETURNING ${SWEEP_COLUMNS}`,
    [sweepId, status, reason],
  );
  if (!rows[0]) return null;
  await clearKeyBounds(client, state, sweepId);
  return toRecord(rows[0]);
}

export interface SweepFilter {
  ruleId?: string;
  status?: SweepStatus;
  /** Most recent N. Default: all. */
  limit?: number;
}

/** Sweeps, oldest first, optionally of one rule or status. */
export async function listSweeps(state: StateDb, filter: SweepFilter = {}): Promise<SweepRecord[]> {
  const { rows } = await state.db.pool.query(
    `SELECT * FROM (
       SELECT ${SWEEP_COLUMNS} FROM ${state.table('sweeps')}
        WHERE ($1::text IS NULL OR rule_id = $1) AND ($2::text IS NULL OR status = $2)
        ORDER BY created_at DESC, id DESC LIMIT $3
     ) recent ORDER BY created_at, id`,
    [filter.ruleId ?? null, filter.status ?? null, filter.limit ?? null],
  );
  return rows.map(toRecord);
}

/**
 * The display fields of a rule persisted before rules carried a shape version (v1: the
 * per-kind fields at the top level), each read only if it has the type it had then.
 */
function legacySummary(value: unknown): SweepRuleSummary {
  const record = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
  const text = (field: unknown): string | null => (typeof field === 'string' ? field : null);
  const table = record.table !== null && typeof record.table === 'object' ? (record.table as Record<string, unknown>) : {};
  const tableName = text(table.name);
  const schema = text(table.schema);
  const action = ACTIONS.find((a) => a === record.action) ?? null;
  return {
    source: text(record.source),
    store: text(record.store) ?? '',
    target: text(record.keys) ?? (tableName === null ? '' : schema ? `${schema}.${tableName}` : tableName),
    action,
  };
}
