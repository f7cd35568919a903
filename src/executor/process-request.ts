import { appendAudit } from '../audit/append-audit.js';
import { unsealSubject } from '../people/seal-subject.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import {
  completeRequest,
  readRequest,
  readRequestRules,
  setRequestRuleStatus,
  setRequestStatus,
  type RequestRecord,
} from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { isObjectOutbox } from '../stores/owned-objects.js';
import { ofSubject } from '../stores/selection.js';
import { drainCascades } from './drain-cascades.js';
import { eraseRule } from './erase-rule.js';
import { syncRequestRules } from './request-rules.js';

/** Where a request stands after a pass. */
export type RequestProgress =
  | { status: 'completed'; request: RequestRecord }
  | { status: 'waiting'; request: RequestRecord; reason: string }
  /** Another process is working on it right now. */
  | { status: 'busy' }
  | { status: 'missing' };

/**
 * One pass over an erasure request: erases the subject from every rule that declares a
 * subject, children before parents in each store, then verifies. It completes only when
 * a verification pass asks every such rule's store again and finds nothing of the subject
 * (anonymized items no longer count), and no object the deleted rows owned is still
 * queued; then the sealed identifier is dropped. Anything that stops it (a store down, a
 * hold, items that came back) leaves it `waiting` with the reason, its deadline unchanged;
 * the worker's reconciler runs it again until it completes.
 *
 * Safe to run from several processes at once: a session advisory lock per request lets
 * one work and tells the others `busy`.
 */
export async function processRequest(runtime: Runtime, requestId: string, actor: string): Promise<RequestProgress> {
  const { state } = runtime;
  const client = await state.db.pool.connect();
  const lockKey = `retention-request:${state.schema}:${requestId}`;
  client.on('error', () => undefined);
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [lockKey]);
    if (!rows[0]!.ok) return { status: 'busy' };
    try {
      return await pass(runtime, requestId, actor);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

async function pass(runtime: Runtime, requestId: string, actor: string): Promise<RequestProgress> {
  const { state } = runtime;
  const request = await readRequest(state.db.pool, state, requestId);
  if (!request) return { status: 'missing' };
  if (request.status === 'completed') return { status: 'completed', request };
  if (!request.subjectSealed) throw new Error(`request ${requestId} is not complete but holds no sealed subject: it cannot be resumed`);
  const subject = unsealSubject(state.auditKey, request.subjectSealed);

  const recorded = await readRequestRules(state.db.pool, state, requestId);
  const rules = await syncRequestRules(runtime, request, recorded);
  const lines = new Map(recorded.map((l) => [l.ruleId, l]));
  const reasons: string[] = [];
  const failedStores = new Set<string>();
  const queued = new Set<string>();
  for (const rule of rules) {
    if (lines.get(rule.id)?.status === 'done') continue;
    // Children first: once a rule of a store could not finish, its parents there wait too.
    if (failedStores.has(rule.store)) {
      reasons.push(`rule ${rule.id}: waits for the rules before it in store ${rule.store}`);
      continue;
    }
    try {
      const outcome = await eraseRule(runtime, request, subject, rule, actor);
      if (outcome.status === 'waiting') {
        reasons.push(outcome.reason);
        failedStores.add(rule.store);
      } else if (Object.values(outcome.objects).some((n) => n > 0)) {
        queued.add(rule.store);
      }
    } catch (error) {
      const reason = `rule ${rule.id} (store ${rule.store}): ${withoutSubject(error, subject)}`;
      reasons.push(reason);
      failedStores.add(rule.store);
      await withTransaction(state.db, (tx) => setRequestRuleStatus(tx, state, requestId, rule.id, 'waiting', reason)).catch(() => undefined);
    }
  }
  // Objects the deleted rows owned (`cascade:`) go before the request can be complete.
  for (const name of queued) {
    try {
      await drainCascades(runtime, name);
    } catch (error) {
      reasons.push(`objects of deleted rows in store ${name}: ${withoutSubject(error, subject)}`);
    }
  }
  if (reasons.length === 0) {
    // A store that goes down during verification leaves the request waiting, like one
    // down during the erasure, rather than failing the job with the error as its reason.
    reasons.push(...(await verify(runtime, rules, subject, queued).catch((error: unknown) => [`verification: ${withoutSubject(error, subject)}`])));
  }
  if (reasons.length > 0) return wait(runtime, request, reasons.join('; '), actor);

  const completed = await withTransaction(state.db, async (tx) => {
    const done = await completeRequest(tx, state, requestId);
    if (!done) return null;
    const lines = await readRequestRules(tx, state, requestId);
    await appendAudit(tx, state, {
      event: 'request-completed',
      subject: done.subjectDigest,
      requestId,
      ruleId: null,
      rows: lines.reduce((n, l) => n + l.rows, 0),
      actor,
      dueAt: done.dueAt.toISOString(),
    });
    return done;
  });
  return { status: 'completed', request: completed ?? (await readRequest(state.db.pool, state, requestId))! };
}

/**
 * A store's error message with the raw subject taken out: errors quote what they failed
 * on (a files store's path built from `{subject}`: "EACCES ... unlink '/data/alice/...'",
 * a Redis key), and the reason goes to the request's record and to the audit log
 * (`request-waiting`), which must only ever name the person by digest.
 */
function withoutSubject(error: unknown, subject: string): string {
  const message = String((error as Error)?.message ?? error);
  // An empty id would put the marker between every character.
  return subject === '' ? message : message.replaceAll(subject, '[subject]');
}

/**
 * The verification pass: every rule that declares a subject, asked again; and no object
 * of the deleted rows still queued in the stores this pass queued into.
 */
async function verify(runtime: Runtime, rules: readonly Rule[], subject: string, queued: ReadonlySet<string>): Promise<string[]> {
  const reasons: string[] = [];
  for (const rule of rules) {
    const store = runtime.storeFor(rule);
    const left = await store.count(rule, ofSubject(subject), runtime.contextFor(rule));
    if (left > 0) reasons.push(`verification found ${left} item(s) of the subject still in ${store.describe(rule)} (rule ${rule.id})`);
  }
  for (const name of queued) {
    const store = runtime.stores().find((s) => s.name === name);
    const pending = store && isObjectOutbox(store) ? await store.pendingObjects() : 0;
    if (pending > 0) reasons.push(`${pending} object(s) of deleted rows are still queued for deletion from store ${name}`);
  }
  return reasons;
}

/** Records why the request cannot finish now; audited when the reason changes, not at every retry. */
async function wait(runtime: Runtime, request: RequestRecord, reason: string, actor: string): Promise<RequestProgress> {
  const { state } = runtime;
  await withTransaction(state.db, async (tx) => {
    await setRequestStatus(tx, state, request.id, 'waiting', reason);
    if (request.waitingReason !== reason) {
      await appendAudit(tx, state, { event: 'request-waiting', subject: request.subjectDigest, requestId: request.id, ruleId: null, rows: 0, actor, reason });
    }
  });
  return { status: 'waiting', request: (await readRequest(state.db.pool, state, request.id))!, reason };
}
