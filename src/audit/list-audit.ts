import type { StateDb } from '../state/state-db.js';
import type { AuditRecord, AuditEntry } from './audit-entry.js';

export interface ListAuditOptions {
  ruleId?: string;
  /** Only entries about this erasure request (`requestId`). */
  requestId?: string;
  /** Most recent N entries. Default 50. */
  limit?: number;
}

/** The most recent entries, oldest first, optionally for one rule. */
export async function listAudit(state: StateDb, options: ListAuditOptions = {}): Promise<AuditRecord[]> {
  const { rows } = await state.db.pool.query<{ seq: string; at: Date; entry: AuditEntry; prev_hash: string; hash: string; keyed: boolean }>(
    `SELECT seq, at, entry, prev_hash, hash, keyed FROM ${state.table('audit_log')}
      WHERE ($1::text IS NULL OR entry->>'ruleId' = $1) AND ($3::text IS NULL OR entry->>'requestId' = $3)
      ORDER BY seq DESC LIMIT $2`,
    [options.ruleId ?? null, options.limit ?? 50, options.requestId ?? null],
  );
  return rows.reverse().map((r) => ({ seq: Number(r.seq), at: r.at.toISOString(), entry: r.entry, prevHash: r.prev_hash, hash: r.hash, keyed: r.keyed }));
}
