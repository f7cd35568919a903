import type { SqlClient } from './sql-client.js';
import type { StateDb } from './state-db.js';

/** Open: work remains; waiting: it cannot finish now (why: `waitingReason`); completed: verified. */
export type RequestStatus = 'open' | 'waiting' | 'completed';

/** An erasure request as stored: the subject only as digest and (until complete) sealed. */
export interface RequestRecord {
  id: string;
  subjectDigest: string;
  subjectSealed: Buffer | null;
  receivedAt: Date;
  reason: string | null;
  dueAt: Date;
  originalDueAt: Date;
  extendedAt: Date | null;
  extendedBy: string | null;
  extensionReason: string | null;
  acknowledgeDueAt: Date | null;
  acknowledgedAt: Date | null;
  status: RequestStatus;
  waitingReason: string | null;
  createdAt: Date;
  createdBy: string;
  completedAt: Date | null;
  verifiedAt: Date | null;
}

/** One rule's part of a request: what the receipt lists. */
export interface RequestRuleRecord {
  requestId: string;
  ruleId: string;
  ruleHash: string;
  store: string;
  target: string;
  action: string;
  position: number;
  status: 'pending' | 'done' | 'waiting';
  rows: number;
  cascaded: Record<string, number> | null;
  objects: Record<string, number> | null;
  waitingReason: string | null;
  doneAt: Date | null;
  doneBy: string | null;
  auditSeq: number | null;
  auditHash: string | null;
}

const REQUEST_COLUMNS = `id, subject_digest, subject_sealed, received_at, reason, due_at, original_due_at, extended_at, extended_by,
  extension_reason, acknowledge_due_at, acknowledged_at, status, waiting_reason, created_at, created_by, completed_at, verified_at`;

function toRequest(row: Record<string, unknown>): RequestRecord {
  return {
    id: row.id as string,
    subjectDigest: row.subject_digest as string,
    subjectSealed: (row.subject_sealed as Buffer | null) ?? null,
    receivedAt: row.received_at as Date,
    reason: (row.reason as string | null) ?? null,
    dueAt: row.due_at as Date,
    originalDueAt: row.original_due_at as Date,
    extendedAt: (row.extended_at as Date | null) ?? null,
    extendedBy: (row.extended_by as string | null) ?? null,
    extensionReason: (row.extension_reason as string | null) ?? null,
    acknowledgeDueAt: (row.acknowledge_due_at as Date | null) ?? null,
    acknowledgedAt: (row.acknowledged_at as Date | null) ?? null,
    status: row.status as RequestStatus,
    waitingReason: (row.waiting_reason as string | null) ?? null,
    createdAt: row.created_at as Date,
    createdBy: row.created_by as string,
    completedAt: (row.completed_at as Date | null) ?? null,
    verifiedAt: (row.verified_at as Date | null) ?? null,
  };
}

function toRequestRule(row: Record<string, unknown>): RequestRuleRecord {
  return {
    requestId: row.request_id as string,
    ruleId: row.rule_id as string,
    ruleHash: row.rule_hash as string,
    store: row.store as string,
    target: row.target as string,
    action: row.action as string,
    position: row.position as number,
    status: row.status as RequestRuleRecord['status'],
    rows: Number(row.rows),
    cascaded: (row.cascaded as Record<string, number> | null) ?? null,
    objects: (row.objects as Record<string, number> | null) ?? null,
    waitingReason: (row.waiting_reason as string | null) ?? null,
    doneAt: (row.done_at as Date | null) ?? null,
    doneBy: (row.done_by as string | null) ?? null,
    auditSeq: row.audit_seq === null || row.audit_seq === undefined ? null : Number(row.audit_seq),
    auditHash: (row.audit_hash as string | null) ?? null,
  };
}

export interface NewRequest {
  id: string;
  subjectDigest: string;
  subjectSealed: Buffer;
  receivedAt: Date;
  reason: string | null;
  dueAt: Date;
  acknowledgeDueAt: Date | null;
  createdBy: string;
}

export interface NewRequestRule {
  ruleId: string;
  ruleHash: string;
  store: string;
  target: string;
  action: string;
  position: number;
}

export async function insertRequest(tx: SqlClient, state: StateDb, request: NewRequest, rules: readonly NewRequestRule[]): Promise<RequestRecord> {
  const { rows } = await tx.query(
    `INSERT INTO ${state.table('requests')}
       (id, subject_digest, subject_sealed, received_at, reason, due_at, original_due_at, acknowledge_due_at, status, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $6, $7, 'open', $8) RETURNING ${REQUEST_COLUMNS}`,
    [request.id, request.subjectDigest, request.subjectSealed, request.receivedAt, request.reason, request.dueAt, request.acknowledgeDueAt, request.createdBy],
  );
  for (const rule of rules) await upsertRequestRule(tx, state, request.id, rule);
  return toRequest(rows[0]!);
}

/** A rule's line of a request, pending; an existing line only takes the new position (erasure order). */
export async function upsertRequestRule(tx: SqlClient, state: StateDb, requestId: string, rule: NewRequestRule): Promise<void> {
  await tx.query(
    `INSERT INTO ${state.table('request_rules')} (request_id, rule_id, rule_hash, store, target, action, position, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending')
     ON CONFLICT (request_id, rule_id) DO UPDATE SET position = EXCLUDED.position`,
    [requestId, rule.ruleId, rule.ruleHash, rule.store, rule.target, rule.action, rule.position],
  );
}

/** The request, locked for update when `forUpdate` (inside the caller's transaction). */
export async function readRequest(tx: SqlClient, state: StateDb, id: string, forUpdate = false): Promise<RequestRecord | null> {
  const { rows } = await tx.query(`SELECT ${REQUEST_COLUMNS} FROM ${state.table('requests')} WHERE id = $1${forUpdate ? ' FOR UPDATE' : ''}`, [id]);
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function readRequestRules(tx: SqlClient, state: StateDb, id: string): Promise<RequestRuleRecord[]> {
  const { rows } = await tx.query(`SELECT * FROM ${state.table('request_rules')} WHERE request_id = $1 ORDER BY position, rule_id`, [id]);
  return rows.map(toRequestRule);
}

export interface RequestFilter {
  /** Not completed. */
  open?: boolean;
  /** Not completed and past the (possibly extended) deadline at the database's clock. */
  overdue?: boolean;
}

export async function listRequests(tx: SqlClient, state: StateDb, filter: RequestFilter = {}): Promise<RequestRecord[]> {
  // Overdue: the answer is late, or the acknowledgement is (tracked the same way).
  const where = filter.overdue
    ? `WHERE status <> 'completed' AND (due_at < now() OR (acknowledged_at IS NULL AND acknowledge_due_at < now()))`
    : filter.open
      ? `WHERE status <> 'completed'`
      : '';
  const { rows } = await tx.query(`SELECT ${REQUEST_COLUMNS} FROM ${state.table('requests')} ${where} ORDER BY due_at, id`);
  return rows.map(toRequest);
}

export async function setRequestStatus(tx: SqlClient, state: StateDb, id: string, status: RequestStatus, waitingReason: string | null): Promise<void> {
  await tx.query(`UPDATE ${state.table('requests')} SET status = $2, waiting_reason = $3 WHERE id = $1 AND status <> 'completed'`, [id, status, waitingReason]);
}

/** Verified complete: the sealed identifier goes; only the digest remains. */
export async function completeRequest(tx: SqlClient, state: StateDb, id: string): Promise<RequestRecord | null> {
  const { rows } = await tx.query(
    `UPDATE ${state.table('requests')}
        SET status = 'completed', waiting_reason = NULL, subject_sealed = NULL, completed_at = now(), verified_at = now()
      WHERE id = $1 AND status <> 'completed' RETURNING ${REQUEST_COLUMNS}`,
    [id],
  );
  return rows[0] ? toRequest(rows[0]) : null;
}

/** Adds one rule's erased items (a request may take several passes) and, when `done`, closes the rule. */
export async function recordRequestRule(
  tx: SqlClient,
  state: StateDb,
  requestId: string,
  ruleId: string,
  change: {
    rows: number;
    cascaded?: Record<string, number>;
    objects?: Record<string, number>;
    audit?: { seq: number; hash: string };
    by: string;
  },
): Promise<void> {
  await tx.query(
    `UPDATE ${state.table('request_rules')}
        SET rows = rows + $3,
            cascaded = CASE WHEN $4::jsonb IS NULL THEN cascaded ELSE ${mergeCounts('cascaded', '$4')} END,
            objects = CASE WHEN $5::jsonb IS NULL THEN objects ELSE ${mergeCounts('objects', '$5')} END,
            audit_seq = COALESCE($6, audit_seq), audit_hash = COALESCE($7, audit_hash),
            done_by = $8, waiting_reason = NULL
      WHERE request_id = $1 AND rule_id = $2`,
    [
      requestId,
      ruleId,
      change.rows,
      change.cascaded && Object.keys(change.cascaded).length > 0 ? JSON.stringify(change.cascaded) : null,
      change.objects && Object.keys(change.objects).length > 0 ? JSON.stringify(change.objects) : null,
      change.audit?.seq ?? null,
      change.audit?.hash ?? null,
      change.by,
    ],
  );
}

/** Sums two jsonb count objects key by key (`{"a.t": 2} + {"a.t": 1, "b.t": 4}`). */
function mergeCounts(column: string, param: string): string {
  return `(SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM (
            SELECT k, sum(v::numeric) AS v FROM (
              SELECT key AS k, value AS v FROM jsonb_each_text(coalesce(${column}, '{}'::jsonb))
              UNION ALL SELECT key, value FROM jsonb_each_text(${param}::jsonb)) AS both_ GROUP BY k) AS summed)`;
}

export async function setRequestRuleStatus(
  tx: SqlClient,
  state: StateDb,
  requestId: string,
  ruleId: string,
  status: RequestRuleRecord['status'],
  waitingReason: string | null,
): Promise<void> {
  await tx.query(
    `UPDATE ${state.table('request_rules')} SET status = $3, waiting_reason = $4, done_at = CASE WHEN $3 = 'done' THEN now() ELSE done_at END
      WHERE request_id = $1 AND rule_id = $2`,
    [requestId, ruleId, status, waitingReason],
  );
}

export async function extendRequest(tx: SqlClient, state: StateDb, id: string, dueAt: Date, by: string, reason: string): Promise<RequestRecord | null> {
  const { rows } = await tx.query(
    `UPDATE ${state.table('requests')} SET due_at = $2, extended_at = now(), extended_by = $3, extension_reason = $4
      WHERE id = $1 AND extended_at IS NULL AND status <> 'completed' RETURNING ${REQUEST_COLUMNS}`,
    [id, dueAt, by, reason],
  );
  return rows[0] ? toRequest(rows[0]) : null;
}

export async function acknowledgeRequest(tx: SqlClient, state: StateDb, id: string): Promise<RequestRecord | null> {
  const { rows } = await tx.query(
    `UPDATE ${state.table('requests')} SET acknowledged_at = now() WHERE id = $1 AND acknowledged_at IS NULL RETURNING ${REQUEST_COLUMNS}`,
    [id],
  );
  return rows[0] ? toRequest(rows[0]) : null;
}

/** One rule's erasure of one person, for replay after a restore: the digest, never the id. */
export async function insertLedger(tx: SqlClient, state: StateDb, entry: { subjectDigest: string; ruleId: string; ruleHash: string; requestId: string }): Promise<void> {
  await tx.query(
    `INSERT INTO ${state.table('erasure_ledger')} (subject_digest, rule_id, rule_hash, request_id) VALUES ($1, $2, $3, $4)`,
    [entry.subjectDigest, entry.ruleId, entry.ruleHash, entry.requestId],
  );
}

export interface LedgerEntry {
  seq: number;
  subjectDigest: string;
  ruleId: string;
  ruleHash: string;
  requestId: string;
  erasedAt: Date;
}

export async function ledgerSince(tx: SqlClient, state: StateDb, since: Date): Promise<LedgerEntry[]> {
  const { rows } = await tx.query<Record<string, unknown>>(
    `SELECT seq, subject_digest, rule_id, rule_hash, request_id, erased_at FROM ${state.table('erasure_ledger')} WHERE erased_at >= $1 ORDER BY seq`,
    [since],
  );
  return rows.map((r) => ({
    seq: Number(r.seq),
    subjectDigest: r.subject_digest as string,
    ruleId: r.rule_id as string,
    ruleHash: r.rule_hash as string,
    requestId: r.request_id as string,
    erasedAt: r.erased_at as Date,
  }));
}

/**
 * Completed requests whose record reached its keep period (`requests.keep`), removed with
 * their rule lines; the ledger keeps their digests. Returns the ids removed.
 */
export async function deleteExpiredRequests(tx: SqlClient, state: StateDb, completedBefore: Date): Promise<string[]> {
  const { rows } = await tx.query<{ id: string }>(
    `DELETE FROM ${state.table('requests')} WHERE status = 'completed' AND completed_at < $1 RETURNING id`,
    [completedBefore],
  );
  return rows.map((r) => r.id);
}
