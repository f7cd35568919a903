import type { PeopleAuditEntry } from '../audit/audit-entry.js';
import { listAudit } from '../audit/list-audit.js';
import { readRequest, readRequestRules, type RequestRecord } from '../state/requests.js';
import type { StateDb } from '../state/state-db.js';

/** One audit entry a receipt cites: check it with `retention audit verify`, which recomputes every hash. */
export interface CitedEntry {
  seq: number;
  at: string;
  event: string;
  hash: string;
  rows: number;
}

/**
 * The proof an erasure request was carried out: per rule and store, what was removed or
 * anonymized, when and by whom, and the audit entries (seq and keyed hash) recording it.
 * The person appears only as `subject`, the keyed digest: whoever knows the id and the
 * audit key can recompute it (`retention receipt ID --subject ID` does).
 */
export interface Receipt {
  requestId: string;
  subject: string;
  status: RequestRecord['status'];
  receivedAt: string;
  dueAt: string;
  originalDueAt: string;
  extended: { at: string; by: string | null; reason: string | null } | null;
  completedAt: string | null;
  verifiedAt: string | null;
  waitingReason: string | null;
  rules: {
    rule: string;
    store: string;
    target: string;
    action: string;
    status: string;
    rows: number;
    cascaded: Record<string, number> | null;
    objects: Record<string, number> | null;
    doneAt: string | null;
    doneBy: string | null;
    entries: CitedEntry[];
  }[];
  /** Every audit entry about the request, in order (opened, erased..., completed). */
  entries: CitedEntry[];
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** The receipt of request `id`, or null when there is no such request (or its record expired). */
export async function buildReceipt(state: StateDb, id: string): Promise<Receipt | null> {
  const request = await readRequest(state.db.pool, state, id);
  if (!request) return null;
  const lines = await readRequestRules(state.db.pool, state, id);
  const records = await listAudit(state, { requestId: id, limit: 100_000 });
  const cite = (r: (typeof records)[number]): CitedEntry => ({ seq: r.seq, at: r.at, event: r.entry.event, hash: r.hash, rows: r.entry.rows });
  return {
    requestId: request.id,
    subject: request.subjectDigest,
    status: request.status,
    receivedAt: request.receivedAt.toISOString(),
    dueAt: request.dueAt.toISOString(),
    originalDueAt: request.originalDueAt.toISOString(),
    extended: request.extendedAt ? { at: request.extendedAt.toISOString(), by: request.extendedBy, reason: request.extensionReason } : null,
    completedAt: iso(request.completedAt),
    verifiedAt: iso(request.verifiedAt),
    waitingReason: request.waitingReason,
    rules: lines.map((line) => ({
      rule: line.ruleId,
      store: line.store,
      target: line.target,
      action: line.action,
      status: line.status,
      rows: line.rows,
      cascaded: line.cascaded,
      objects: line.objects,
      doneAt: iso(line.doneAt),
      doneBy: line.doneBy,
      entries: records.filter((r) => r.entry.event === 'erased' && (r.entry as PeopleAuditEntry).ruleId === line.ruleId).map(cite),
    })),
    entries: records.map(cite),
  };
}
