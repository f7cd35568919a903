import type { StateDb } from '../state/state-db.js';
import type { AuditCheckpoint } from './audit-checkpoint.js';
import { derivedKey } from './audit-key.js';
import { GENESIS_HASH, hashEntry, macEntry } from './hash-entry.js';

export type VerifyResult =
  | {
      ok: true;
      entries: number;
      head: string;
      /** Entries 1..legacy were written before the chain was keyed: unkeyed sha256, rewritable by anyone. */
      legacy: number;
      /** External checkpoints the log was checked against. */
      checkpoints: number;
    }
  | { ok: false; entries: number; seq: number; problem: string };

export interface VerifyOptions {
  /** Checkpoints of this state schema from an external store (`readCheckpoints`): nothing up to each may be cut or rewritten. */
  against?: readonly AuditCheckpoint[];
}

const PAGE = 5_000;

/**
 * Walks the chain in seq order and recomputes every hash under the audit key. Reports the
 * first entry that breaks it: edited content (its MAC does not match: without the key it
 * cannot be recomputed), a removed entry (seq gap or prev_hash mismatch), reordering
 * (prev_hash mismatch), or an unkeyed entry after a keyed one (written or rewritten
 * without the key). Then what the database itself says must be in the log: every ended
 * sweep's closing entry and every completed batch's entry. Then, with `against`, that
 * each external checkpoint's entry is still there with the hash it had. Reads in pages to
 * keep memory flat.
 */
export async function verifyAudit(state: StateDb, options: VerifyOptions = {}): Promise<VerifyResult> {
  const chainKey = derivedKey(state.auditKey, 'chain');
  const checkpoints = new Map<number, AuditCheckpoint[]>();
  for (const c of options.against ?? []) checkpoints.set(c.seq, [...(checkpoints.get(c.seq) ?? []), c]);

  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let legacy = 0;
  const fail = (seq: number, problem: string): VerifyResult => ({ ok: false, entries: expectedSeq - 1, seq, problem });
  const cut = checkpointMismatch(checkpoints.get(0) ?? [], GENESIS_HASH, 0);
  if (cut) return fail(0, cut);
  for (;;) {
    const { rows } = await state.db.pool.query<{ seq: string; at: Date; entry: unknown; prev_hash: string; hash: string; keyed: boolean }>(
      `SELECT seq, at, entry, prev_hash, hash, keyed FROM ${state.table('audit_log')} WHERE seq >= $1 ORDER BY seq LIMIT $2`,
      [expectedSeq, PAGE],
    );
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) {
        return fail(seq, `entry ${expectedSeq}${seq > expectedSeq + 1 ? `-${seq - 1}` : ''} is missing (the log jumps from ${expectedSeq - 1} to ${seq})`);
      }
      if (row.prev_hash !== prevHash) {
        return fail(seq, `entry ${seq} does not follow entry ${seq - 1} (its prev_hash does not match): an entry was removed, inserted or reordered`);
      }
      if (!row.keyed && legacy < seq - 1) {
        return fail(seq, `entry ${seq} is unkeyed but follows keyed entries: it was written or rewritten without the audit key`);
      }
      const at = row.at.toISOString();
      const hash = row.keyed ? macEntry(chainKey, row.prev_hash, seq, at, row.entry) : hashEntry(row.prev_hash, seq, at, row.entry);
      if (hash !== row.hash) {
        return fail(seq, `entry ${seq} was altered (its content does not match its ${row.keyed ? 'keyed hash: edited, or written with another audit key' : 'hash'})`);
      }
      const rewritten = checkpointMismatch(checkpoints.get(seq) ?? [], row.hash, seq);
      if (rewritten) return fail(seq, rewritten);
      if (!row.keyed) legacy++;
      prevHash = row.hash;
      expectedSeq++;
    }
    if (rows.length < PAGE) break;
  }
  const entries = expectedSeq - 1;
  const beyond = [...checkpoints.values()].flat().filter((c) => c.seq > entries).sort((a, b) => b.seq - a.seq)[0];
  if (beyond) {
    return fail(entries + 1, `entries ${entries + 1}-${beyond.seq} were cut: the checkpoint taken at ${beyond.at} recorded entry ${beyond.seq} (hash ${beyond.hash.slice(0, 12)}...), and the log now ends at entry ${entries}`);
  }
  const missing = (await missingClosingEntry(state)) ?? (await missingBatchEntries(state));
  if (missing) return fail(entries + 1, missing);
  return { ok: true, entries, head: prevHash, legacy, checkpoints: options.against?.length ?? 0 };
}

function checkpointMismatch(checkpoints: readonly AuditCheckpoint[], hash: string, seq: number): string | null {
  const other = checkpoints.find((c) => c.hash !== hash);
  if (!other) return null;
  return `entry ${seq} is not the entry checkpointed at ${other.at} (hash ${other.hash.slice(0, 12)}..., now ${hash.slice(0, 12)}...): the log was rewritten up to it`;
}

/**
 * A sweep's end is recorded twice, in the same transaction: its status in the sweeps table
 * and its closing entry (`sweep-finished` for done, else the event named as the status:
 * blocked, superseded, failed, cancelled). A sweep that ended without its entry lost it:
 * the final entries were removed.
 */
async function missingClosingEntry(state: StateDb): Promise<string | null> {
  const { rows } = await state.db.pool.query<{ id: string; status: string; event: string }>(
    `WITH closing AS (
       SELECT DISTINCT entry->>'sweepId' AS sweep_id, entry->>'event' AS event FROM ${state.table('audit_log')} WHERE entry->>'event' <> 'batch'
     ), ended AS (
       SELECT id, status, created_at, CASE status WHEN 'done' THEN 'sweep-finished' ELSE status END AS event
         FROM ${state.table('sweeps')} WHERE status <> 'running'
     )
     SELECT e.id, e.status, e.event FROM ended e LEFT JOIN closing c ON c.sweep_id = e.id AND c.event = e.event
      WHERE c.sweep_id IS NULL
      ORDER BY e.created_at, e.id
      LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return null;
  return `entries are missing: sweep ${row.id} is recorded as ${row.status} but the log has no ${row.event} entry for it (its closing entry was removed)`;
}

/**
 * A hash chain cannot show that entries were cut from its end. The checkpoints can: every
 * completed batch that changed rows committed its audit entry in the same transaction, so
 * such a batch without its entry lost it. Matched batch by batch (sweep and position): a
 * count per sweep would let the cut entry of a batch that deleted rows hide behind the entry
 * of one that changed nothing but wrote one anyway (it kept held rows). A batch that changed
 * nothing may have written none: the sweep's closing entry counts those. Sweeps audited
 * before batch entries carried their position are matched by count.
 */
async function missingBatchEntries(state: StateDb): Promise<string | null> {
  const { rows } = await state.db.pool.query<{ sweep_id: string; idx: number | null; done: string; audited: string }>(
    `WITH entries AS (SELECT entry->>'sweepId' AS sweep_id, (entry->>'batch')::int AS idx FROM ${state.table('audit_log')} WHERE entry->>'event' = 'batch'),
          legacy AS (SELECT DISTINCT sweep_id FROM entries WHERE idx IS NULL),
          changed AS (SELECT sweep_id, idx FROM ${state.table('batches')} WHERE done AND rows <> 0),
          by_count AS (
            SELECT c.sweep_id, NULL::int AS idx, count(*) AS done, (SELECT count(*) FROM entries e WHERE e.sweep_id = c.sweep_id) AS audited
              FROM changed c WHERE c.sweep_id IN (SELECT sweep_id FROM legacy) GROUP BY c.sweep_id),
          by_batch AS (
            SELECT c.sweep_id, c.idx, 1 AS done, 0 AS audited FROM changed c
             WHERE c.sweep_id NOT IN (SELECT sweep_id FROM legacy)
               AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.sweep_id = c.sweep_id AND e.idx = c.idx))
     SELECT * FROM by_batch
     UNION ALL
     SELECT * FROM by_count WHERE done > audited
     LIMIT 1`,
  );
  const row = rows[0];
  if (!row) return null;
  if (row.idx !== null) return `entries are missing: batch ${row.idx} of sweep ${row.sweep_id} is recorded done with rows changed, but the log has no entry for it (entries were removed)`;
  return `entries are missing after the last one: sweep ${row.sweep_id} completed ${row.done} batches but the log has ${row.audited} of their entries (entries were removed from the end)`;
}
