import { appendAudit } from '../audit/append-audit.js';
import type { PeopleAuditEntry } from '../audit/audit-entry.js';
import { describeHold, holdsForRule, type HoldsForRule } from '../people/holds-in-force.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { allowIdleWhileOtherStoreChanges } from '../state/holds.js';
import type { SqlClient } from '../state/sql-client.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { exceptHeld, ofSubject } from '../stores/selection.js';
import type { BatchGuard, BatchResult, BatchSpec } from '../stores/store.js';

/** One person's items in one rule, to delete or anonymize, and how to record it. */
export interface SubjectWork {
  rule: Rule;
  /** The raw identifier: in memory only, never recorded. */
  subject: string;
  /** Its digest (`subjectDigest`): what the hold check, the audit entry and the records name. */
  digest: string;
  /** The erasure request this carries out (or, replayed, carried out before). */
  requestId: string;
  /** `erased` for a request, `replayed` for an erasure done again after a restore. */
  event: 'erased' | 'replayed';
  /** `replayed`: what is replayed and since when. */
  replay?: NonNullable<PeopleAuditEntry['replay']>;
  actor: string;
  /** More to record in each range's state transaction, after its audit entry (a request's receipt line). */
  recorded?: (tx: SqlClient, result: BatchResult, audit: { seq: number; hash: string }) => Promise<void>;
}

/** What one pass over the person's items in the rule did. */
export interface SubjectPass {
  rows: number;
  objects: Record<string, number>;
  /** Why the pass stopped, changing nothing more: a hold on the rule or on the subject; null when none. */
  heldBy: string | null;
}

/**
 * One pass over a person's items in one rule, each key range changed like a sweep's batch:
 * the holds are read inside the state transaction that records the change, under the holds
 * lock (src/state/holds.ts), and that transaction commits after the store's change, so a
 * hold committed before the step begins stops it, in every store kind. A held subject or
 * rule changes nothing (from that range on). Every range that changed is audited as
 * `work.event`, with the subject's digest and the request's id, never the raw id.
 */
export async function applyToSubject(runtime: Runtime, work: SubjectWork): Promise<SubjectPass> {
  const { state } = runtime;
  const { rule } = work;
  const store = runtime.storeFor(rule);
  const selection = ofSubject(work.subject);
  const together = store.sharesTransactionsWith(runtime.config.state);
  const pass: SubjectPass = { rows: 0, objects: {}, heldBy: null };

  const guard = async (tx: SqlClient): Promise<BatchGuard | null> => {
    const holds = await holdsForRule(tx, state, rule, runtime.config.rules);
    pass.heldBy = heldReason(holds, rule, work.digest);
    return pass.heldBy === null ? { held: holds.held } : null;
  };
  const record = async (tx: SqlClient, result: BatchResult) => {
    pass.rows += result.rows;
    for (const [name, n] of Object.entries(result.objects ?? {})) pass.objects[name] = (pass.objects[name] ?? 0) + n;
    const entry: PeopleAuditEntry = {
      event: work.event,
      subject: work.digest,
      requestId: work.requestId,
      ruleId: rule.id,
      ruleSource: rule.source,
      ruleHash: rule.hash,
      configHash: runtime.config.hash,
      store: rule.store,
      table: store.describe(rule),
      // An archive rule's rows are deleted for a person, never archived (the store acts so).
      action: rule.action === 'anonymize' ? 'anonymize' : 'delete',
      rows: result.rows,
      ...(result.cascaded && Object.keys(result.cascaded).length > 0 ? { cascaded: result.cascaded } : {}),
      ...(result.objects && Object.keys(result.objects).length > 0 ? { objectsQueued: result.objects } : {}),
      actor: work.actor,
      ...(work.replay ? { replay: work.replay } : {}),
    };
    const audit = await appendAudit(tx, state, entry);
    await work.recorded?.(tx, result, audit);
  };

  const ranges = await store.partition(rule, selection);
  for (const [idx, keyRange] of ranges.entries()) {
    const spec: BatchSpec = {
      rule,
      selection,
      keyRange,
      dryRun: false,
      context: runtime.contextFor(rule),
      // Objects the rows own (`cascade:`) are queued under the request's id.
      origin: { sweepId: work.requestId, idx },
    };
    if (together) {
      await store.apply(spec, { before: guard, after: record });
    } else {
      await withTransaction(state.db, async (tx) => {
        const holds = await guard(tx);
        if (!holds) return;
        await allowIdleWhileOtherStoreChanges(tx);
        await record(tx, await store.apply({ ...spec, selection: exceptHeld(selection, holds.held) }));
      });
    }
    if (pass.heldBy !== null) return pass;
  }
  return pass;
}

/** Why the holds in force keep the person's items in the rule (a hold on the rule, or on them), or null. */
export function heldReason(holds: HoldsForRule, rule: Rule, digest: string): string | null {
  if (holds.ruleHold) return `rule ${rule.id} is on legal ${describeHold(holds.ruleHold)}`;
  return holds.heldDigests.has(digest) ? `the subject is on legal hold in rule ${rule.id}` : null;
}
