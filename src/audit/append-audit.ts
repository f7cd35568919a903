import type { SqlClient } from '../state/sql-client.js';
import type { StateDb } from '../state/state-db.js';
import type { AuditEntry } from './audit-entry.js';
import { derivedKey } from './audit-key.js';
import { GENESIS_HASH, macEntry } from './hash-entry.js';

/**
 * Appends one entry inside the caller's transaction, so the entry commits or rolls back
 * with the change it describes. A transaction-scoped advisory lock orders appenders: the
 * chain never forks, and seq has no gaps (a removed entry shows as a gap). Take it last
 * in a transaction: it is held until commit.
 *
 * The entry's hash is keyed (`macEntry` under the state's audit key): without the key, an
 * entry cannot be edited, nor the chain after it recomputed, undetected. No key, no entry
 * (a UserError naming $RETENTION_AUDIT_KEY): the transaction rolls back.
 */
export async function appendAudit(client: SqlClient, state: StateDb, entry: AuditEntry): Promise<{ seq: number; hash: string }> {
  const chainKey = derivedKey(state.auditKey, 'chain');
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`retention-audit:${state.schema}`]);
  const { rows } = await client.query<{ seq: string | null; hash: string | null; now: Date }>(
    `SELECT last.seq, last.hash, now() AS now FROM (SELECT 1) AS one
       LEFT JOIN LATERAL (SELECT seq, hash FROM ${state.table('audit_log')} ORDER BY seq DESC LIMIT 1) AS last ON true`,
  );
  const last = rows[0]!;
  const seq = last.seq === null ? 1 : Number(last.seq) + 1;
  const prevHash = last.hash ?? GENESIS_HASH;
  const at = last.now.toISOString();
  const hash = macEntry(chainKey, prevHash, seq, at, entry);
  await client.query(
    `INSERT INTO ${state.table('audit_log')} (seq, at, entry, prev_hash, hash, keyed) VALUES ($1, $2, $3, $4, $5, true)`,
    [seq, at, JSON.stringify(entry), prevHash, hash],
  );
  return { seq, hash };
}
