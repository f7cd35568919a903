import type { StateDb } from '../state/state-db.js';

/** The last entry's seq (0 for an empty log): entries appended later have a greater one. */
export async function auditHead(state: StateDb): Promise<number> {
  const { rows } = await state.db.pool.query<{ seq: string | null }>(`SELECT max(seq) AS seq FROM ${state.table('audit_log')}`);
  return Number(rows[0]!.seq ?? 0);
}

/**
 * Items a sweep's batches kept because their subject was on legal hold: the sum of `held`
 * over its `batch` entries, as each batch recorded it with its change. `afterSeq` bounds
 * the scan through the primary key (the log is not indexed by sweep): pass the head read
 * before the sweep was started, or 0 to read the whole log.
 */
export async function heldInSweep(state: StateDb, sweepId: string, afterSeq: number): Promise<number> {
  const { rows } = await state.db.pool.query<{ held: string }>(
    `SELECT coalesce(sum((entry->>'held')::bigint), 0) AS held FROM ${state.table('audit_log')}
      WHERE seq > $2 AND entry->>'sweepId' = $1 AND entry->>'event' = 'batch'`,
    [sweepId, afterSeq],
  );
  return Number(rows[0]!.held);
}
