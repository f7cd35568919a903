import type { StateDb } from '../state/state-db.js';
import { GENESIS_HASH, hashEntry } from './hash-entry.js';

export type VerifyResult =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; seq: number; problem: string };

const PAGE = 5_000;

/**
 * Walks the chain in seq order and recomputes every hash. Reports the first entry that
 * breaks it: edited content (hash mismatch), a removed entry (seq gap or prev_hash
 * mismatch) or reordering (prev_hash mismatch). Reads in pages to keep memory flat.
 */
export async function verifyAudit(state: StateDb): Promise<VerifyResult> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  for (;;) {
    const { rows } = await state.db.pool.query<{ seq: string; at: Date; entry: unknown; prev_hash: string; hash: string }>(
      `SELECT seq, at, entry, prev_hash, hash FROM ${state.table('audit_log')} WHERE seq >= $1 ORDER BY seq LIMIT $2`,
      [expectedSeq, PAGE],
    );
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) {
        return { ok: false, entries: expectedSeq - 1, seq, problem: `entry ${expectedSeq}${seq > expectedSeq + 1 ? `-${seq - 1}` : ''} is missing (the log jumps from ${expectedSeq - 1} to ${seq})` };
      }
      if (row.prev_hash !== prevHash) {
        return { ok: false, entries: expectedSeq - 1, seq, problem: `entry ${seq} does not follow entry ${seq - 1} (its prev_hash does not match): an entry was removed, inserted or reordered` };
      }
      const hash = hashEntry(row.prev_hash, seq, row.at.toISOString(), row.entry);
      if (hash !== row.hash) {
        return { ok: false, entries: expectedSeq - 1, seq, problem: `entry ${seq} was altered (its content does not match its hash)` };
      }
      prevHash = row.hash;
      expectedSeq++;
    }
    if (rows.length < PAGE) break;
  }
  const entries = expectedSeq - 1;
  const truncated = await missingAtEnd(state);
  if (truncated) return { ok: false, entries, seq: entries + 1, problem: truncated };
  return { ok: true, entries, head: prevHash };
}

/**
 * A hash chain cannot show that entries were cut from its end. The checkpoints can: every
 * completed batch committed its audit entry in the same transaction, so a sweep with more
 * completed batches than batch entries lost entries.
 */
async function missingAtEnd(state: StateDb): Promise<string | null> {
  const { rows } = await state.db.pool.query<{ sweep_id: string; done: string; audited: string }>(
    `WITH done AS (SELECT sweep_id, count(*) AS n FROM ${state.table('batches')} WHERE done GROUP BY sweep_id),
          audited AS (SELECT entry->>'sweepId' AS sweep_id, count(*) AS n FROM ${state.table('audit_log')}
                       WHERE entry->>'event' = 'batch' GROUP BY 1)
     SELECT d.sweep_id, d.n AS done, coalesce(a.n, 0) AS audited
       FROM done d LEFT JOIN audited a USING (sweep_id)
      WHERE d.n > coalesce(a.n, 0)
      LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return null;
  return `entries are missing after the last one: sweep ${row.sweep_id} completed ${row.done} batches but the log has ${row.audited} of their entries (entries were removed from the end)`;
}
