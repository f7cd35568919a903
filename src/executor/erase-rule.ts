import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { insertLedger, recordRequestRule, setRequestRuleStatus, type RequestRecord } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { ofSubject } from '../stores/selection.js';
import { applyToSubject } from './apply-subject.js';

/** How one rule's part of a request ended this time. */
export type EraseRuleOutcome =
  | { status: 'done'; rows: number; objects: Record<string, number> }
  /** A hold on the subject or the rule: nothing changed; the request waits for its release. */
  | { status: 'waiting'; reason: string };

/** Passes over a rule before items still found are reported rather than chased further. */
const MAX_PASSES = 3;

/**
 * Erases one person from one rule: every item the rule's store holds of them, whatever
 * its age (the rule's other filters still apply), deleted or, for an anonymize rule,
 * anonymized; then counts again and closes the rule's part only when nothing is left.
 *
 * Each pass is `applyToSubject`: every key range changed like a sweep's batch, under the
 * holds read in the state transaction that records it. A held subject or rule changes
 * nothing; the rule's part waits for the release.
 *
 * The raw `subject` is in memory only: the audit entry, the request's lines and the
 * ledger hold its digest.
 */
export async function eraseRule(runtime: Runtime, request: RequestRecord, subject: string, rule: Rule, actor: string): Promise<EraseRuleOutcome> {
  const { state } = runtime;
  const store = runtime.storeFor(rule);
  const selection = ofSubject(subject);
  let rows = 0;
  const objects: Record<string, number> = {};

  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const done = await applyToSubject(runtime, {
      rule,
      subject,
      digest: request.subjectDigest,
      requestId: request.id,
      event: 'erased',
      actor,
      recorded: (tx, result, audit) =>
        recordRequestRule(tx, state, request.id, rule.id, {
          rows: result.rows,
          ...(result.cascaded ? { cascaded: result.cascaded } : {}),
          ...(result.objects ? { objects: result.objects } : {}),
          audit,
          by: actor,
        }),
    });
    rows += done.rows;
    for (const [name, n] of Object.entries(done.objects)) objects[name] = (objects[name] ?? 0) + n;
    if (done.heldBy !== null) {
      const heldBy = done.heldBy;
      await withTransaction(state.db, (tx) => setRequestRuleStatus(tx, state, request.id, rule.id, 'waiting', heldBy));
      return { status: 'waiting', reason: heldBy };
    }
    // Verification: the rule's store is asked again; only nothing left closes the rule.
    if ((await store.count(rule, selection, runtime.contextFor(rule))) === 0) {
      await withTransaction(state.db, async (tx) => {
        await setRequestRuleStatus(tx, state, request.id, rule.id, 'done', null);
        await insertLedger(tx, state, { subjectDigest: request.subjectDigest, ruleId: rule.id, ruleHash: rule.hash, requestId: request.id });
      });
      return { status: 'done', rows, objects };
    }
  }
  const left = await store.count(rule, selection, runtime.contextFor(rule));
  throw new ItemsLeftError(`${left} item(s) of the subject are still in ${store.describe(rule)} (rule ${rule.id}) after ${MAX_PASSES} passes: they changed while being erased, a hold on a value the store takes for the same one (another case, trailing spaces) keeps them, or the store refused them`);
}

/** Items were still found after erasing: the request is not complete, and says why. */
export class ItemsLeftError extends Error {}
