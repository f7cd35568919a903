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
    if (rows.length < PAGE) return { ok: true, entries: expectedSeq - 1, head: prevHash };
  }
}
