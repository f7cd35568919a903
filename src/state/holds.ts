import type { SqlClient } from './sql-client.js';
import type { StateDb } from './state-db.js';

/** A legal hold as stored: never the subject's identifier in clear (see 000005_people.sql). */
export interface HoldRecord {
  id: string;
  /** Null: a hold on a whole rule. */
  subjectDigest: string | null;
  subjectSealed: Buffer | null;
  /** Null: every rule (a subject hold only). */
  ruleId: string | null;
  reason: string;
  until: Date | null;
  createdAt: Date;
  createdBy: string;
  releasedAt: Date | null;
  releasedBy: string | null;
  releaseReason: string | null;
}

interface HoldRow {
  id: string;
  subject_digest: string | null;
  subject_sealed: Buffer | null;
  rule_id: string | null;
  reason: string;
  until: Date | null;
  created_at: Date;
  created_by: string;
  released_at: Date | null;
  released_by: string | null;
  release_reason: string | null;
}

const COLUMNS = 'id::text AS id, subject_digest, subject_sealed, rule_id, reason, until, created_at, created_by, released_at, released_by, release_reason';

function toHold(row: HoldRow): HoldRecord {
  return {
    id: row.id,
    subjectDigest: row.subject_digest,
    subjectSealed: row.subject_sealed,
    ruleId: row.rule_id,
    reason: row.reason,
    until: row.until,
    createdAt: row.created_at,
    createdBy: row.created_by,
    releasedAt: row.released_at,
    releasedBy: row.released_by,
    releaseReason: row.release_reason,
  };
}

function lockName(state: StateDb): string {
  return `retention-holds:${state.schema}`;
}

/**
 * Taken (shared) by every batch and erasure step inside the state transaction that reads
 * the holds, and held until that transaction commits, after the store's change: so a
 * `hold add` (exclusive) waits for the changes already under way, and every change that
 * starts after it commits reads it. When `hold add` returns, no change that ignores the
 * hold is running or can start, in any store kind.
 */
export async function lockHoldsShared(tx: SqlClient, state: StateDb): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock_shared(hashtext($1))', [lockName(state)]);
}

/**
 * For a state transaction held open on purpose while another store changes (a MySQL,
 * Redis, file or S3 change made under the holds lock): the pool's idle-in-transaction
 * timeout, meant for transactions abandoned by a stuck client, would otherwise end it
 * during a long change (a Redis sweep walks a whole key space in one batch), after the
 * change and before its checkpoint and audit entry. Only for this transaction; a worker
 * that dies closes its connection, which ends it anyway.
 */
export async function allowIdleWhileOtherStoreChanges(tx: SqlClient): Promise<void> {
  await tx.query("SELECT set_config('idle_in_transaction_session_timeout', '0', true)");
}

/** See `lockHoldsShared`: taken by `hold add` until its hold commits. */
export async function lockHoldsExclusive(tx: SqlClient, state: StateDb): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [lockName(state)]);
}

/** Holds in force at the state database's clock: not released, not past `until`. */
export async function activeHolds(tx: SqlClient, state: StateDb): Promise<HoldRecord[]> {
  const { rows } = await tx.query<HoldRow>(
    `SELECT ${COLUMNS} FROM ${state.table('holds')}
      WHERE released_at IS NULL AND (until IS NULL OR until > now()) ORDER BY id`,
  );
  return rows.map(toHold);
}

/**
 * Holds not released, judged at `at` rather than the state database's clock: `retention
 * forecast --now` asks which holds a later (or earlier) instant finds in force. A hold
 * released since is left out, as a sweep now would leave it out.
 */
export async function holdsInForceAt(tx: SqlClient, state: StateDb, at: Date): Promise<HoldRecord[]> {
  const { rows } = await tx.query<HoldRow>(
    `SELECT ${COLUMNS} FROM ${state.table('holds')}
      WHERE released_at IS NULL AND (until IS NULL OR until > $1) ORDER BY id`,
    [at],
  );
  return rows.map(toHold);
}

export interface NewHold {
  subjectDigest: string | null;
  subjectSealed: Buffer | null;
  ruleId: string | null;
  reason: string;
  until: Date | null;
  createdBy: string;
}

export async function insertHold(tx: SqlClient, state: StateDb, hold: NewHold): Promise<HoldRecord> {
  const { rows } = await tx.query<HoldRow>(
    `INSERT INTO ${state.table('holds')} (subject_digest, subject_sealed, rule_id, reason, until, created_by)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
    [hold.subjectDigest, hold.subjectSealed, hold.ruleId, hold.reason, hold.until, hold.createdBy],
  );
  return toHold(rows[0]!);
}

/**
 * Releases the holds matching `which` that are still unreleased (an expired `until` counts
 * as unreleased until someone releases it: the record says who ended it). Returns them.
 */
export async function releaseHolds(
  tx: SqlClient,
  state: StateDb,
  which: { id: string } | { subjectDigest: string },
  by: string,
  reason: string | null,
): Promise<HoldRecord[]> {
  const [column, value] = 'id' in which ? ['id', which.id] : ['subject_digest', which.subjectDigest];
  const { rows } = await tx.query<HoldRow>(
    `UPDATE ${state.table('holds')} SET released_at = now(), released_by = $2, release_reason = $3
      WHERE ${column === 'id' ? 'id = $1::bigint' : 'subject_digest = $1'} AND released_at IS NULL
      RETURNING ${COLUMNS}`,
    [value, by, reason],
  );
  return rows.map(toHold);
}

/** Every hold, newest first; `all` false: only those in force. */
export async function listHolds(tx: SqlClient, state: StateDb, options: { all: boolean }): Promise<HoldRecord[]> {
  const where = options.all ? '' : 'WHERE released_at IS NULL AND (until IS NULL OR until > now())';
  const { rows } = await tx.query<HoldRow>(`SELECT ${COLUMNS} FROM ${state.table('holds')} ${where} ORDER BY id DESC`);
  return rows.map(toHold);
}
