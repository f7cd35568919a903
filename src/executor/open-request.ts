import { randomBytes } from 'node:crypto';
import { appendAudit } from '../audit/append-audit.js';
import { requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { requestDeadlines } from '../people/request-deadlines.js';
import { sealSubject } from '../people/seal-subject.js';
import { subjectDigest } from '../people/subject-digest.js';
import type { Runtime } from '../runtime/runtime.js';
import { insertRequest, listRequests, type RequestRecord } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { erasureRules, requestRuleLine } from './request-rules.js';

/** Longer ids are refused: an id is a key, not a document. */
const MAX_SUBJECT_LENGTH = 512;
/** How far a `--received` may lie ahead of the database's clock (clock skew), not more. */
const FUTURE_SKEW_MS = 5 * 60_000;

export interface NewErasure {
  subject: string;
  /** When the person's request arrived (the deadline counts from it); default now. */
  receivedAt?: Date;
  /** Kept with the request (which expires), never in the audit log: it may name the person. */
  reason?: string;
  actor: string;
}

/**
 * Opens an erasure request: records it (the subject as digest and sealed, never in clear),
 * with its deadlines from the config's `requests:` policy, lists the rules it covers in
 * erasure order, and audits the opening. The caller queues the job that carries it out.
 */
export async function openRequest(runtime: Runtime, erasure: NewErasure): Promise<RequestRecord> {
  const { state, config } = runtime;
  requireAuditKey(state.auditKey);
  const subject = erasure.subject;
  if (subject.length === 0 || subject.trim() !== subject) throw new UserError('--subject: the id is empty or has leading or trailing spaces; give it exactly as the stores hold it');
  if (subject.length > MAX_SUBJECT_LENGTH) throw new UserError(`--subject: the id is ${subject.length} characters; at most ${MAX_SUBJECT_LENGTH}`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(subject)) throw new UserError('--subject: the id contains control characters');
  const rules = await erasureRules(runtime);
  if (rules.length === 0) {
    throw new UserError(`no rule in ${config.file} declares a subject, so an erasure request would reach nothing: add subject: (a column, a hash field) or a {subject} placeholder to the rules that hold people's data`);
  }
  const { rows: clock } = await state.db.pool.query<{ now: Date }>('SELECT now() AS now');
  const now = clock[0]!.now;
  const receivedAt = erasure.receivedAt ?? now;
  if (receivedAt.getTime() > now.getTime() + FUTURE_SKEW_MS) {
    throw new UserError(`--received: ${receivedAt.toISOString()} is in the future (the database's clock says ${now.toISOString()})`);
  }
  const digest = subjectDigest(state.auditKey, subject);
  const open = (await listRequests(state.db.pool, state, { open: true })).find((r) => r.subjectDigest === digest);
  if (open) throw new UserError(`request ${open.id} for this subject is already open (due ${open.dueAt.toISOString()}); see retention requests`);
  const deadlines = requestDeadlines(config.requests, receivedAt, config.timezone);
  const id = `req-${now.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(5).toString('hex')}`;
  return withTransaction(state.db, async (tx) => {
    const request = await insertRequest(
      tx,
      state,
      {
        id,
        subjectDigest: digest,
        subjectSealed: sealSubject(state.auditKey, subject),
        receivedAt,
        reason: erasure.reason ?? null,
        dueAt: deadlines.due,
        acknowledgeDueAt: deadlines.acknowledge,
        createdBy: erasure.actor,
      },
      rules.map((rule, position) => requestRuleLine(runtime, rule, position)),
    );
    await appendAudit(tx, state, {
      event: 'request-opened',
      subject: digest,
      requestId: id,
      ruleId: null,
      rows: 0,
      actor: erasure.actor,
      receivedAt: receivedAt.toISOString(),
      dueAt: deadlines.due.toISOString(),
      configHash: config.hash,
    });
    return request;
  });
}
