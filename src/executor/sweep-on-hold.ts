import { appendAudit } from '../audit/append-audit.js';
import { describeHold, stoppingHold } from '../people/holds-in-force.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, lockHoldsShared } from '../state/holds.js';
import type { SqlClient } from '../state/sql-client.js';

/** Why a sweep did not start: the hold on its rule. */
export interface RuleHeld {
  holdId: string;
  reason: string;
  /** ISO instant; null: until released. */
  until: string | null;
  /** "hold 3 (litigation, until ...)", for messages. */
  hold: string;
}

/**
 * Inside the transaction that would record a sweep: whether the rule is on legal hold, read
 * under the holds lock (shared, as a batch reads it), and if so the `held` audit entry, in
 * that transaction. A hold committed before this read stops the sweep here; one being added
 * waits for this transaction, and the sweep's first batch then reads it and cancels it.
 */
export async function sweepOnHold(runtime: Runtime, client: SqlClient, rule: Rule, actor: string): Promise<RuleHeld | null> {
  const { state, config } = runtime;
  await lockHoldsShared(client, state);
  const ruleHold = stoppingHold(await activeHolds(client, state), rule, config.rules);
  if (!ruleHold) return null;
  const until = ruleHold.until?.toISOString() ?? null;
  await appendAudit(client, state, {
    event: 'held',
    holdId: ruleHold.id,
    ruleId: rule.id,
    ruleSource: rule.source,
    ruleHash: rule.hash,
    configHash: config.hash,
    store: rule.store,
    table: runtime.storeFor(rule).describe(rule),
    action: rule.action,
    rows: 0,
    actor,
    reason: ruleHold.reason,
    until,
  });
  return { holdId: ruleHold.id, reason: ruleHold.reason, until, hold: describeHold(ruleHold) };
}
