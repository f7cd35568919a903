import { erasureOrder } from '../people/erasure-order.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { upsertRequestRule, type NewRequestRule, type RequestRecord, type RequestRuleRecord } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';

/**
 * The rules an erasure covers, in the order it runs them: every rule of the config that
 * declares a `subject` (a rule added since the request opened is covered too), children
 * before parents within each store (`erasureOrder`, from each store's catalog).
 */
export async function erasureRules(runtime: Runtime): Promise<Rule[]> {
  return inErasureOrder(runtime, runtime.config.rules.filter((r) => r.subject !== null));
}

/**
 * `rules` in the order an erasure (or a sunset) runs them: children before parents within
 * each store (`erasureOrder`, from each store's catalog), otherwise as given.
 */
export async function inErasureOrder(runtime: Runtime, rules: readonly Rule[]): Promise<Rule[]> {
  const nodes = await Promise.all(
    rules.map(async (rule) => {
      const store = runtime.storeFor(rule);
      // A store that is down cannot say; its rules fail in this pass anyway, and the next
      // pass orders them again. A request must still open (its deadline runs).
      const dependsOn = (await store.dependsOn?.(rule).catch(() => [])) ?? [];
      return { id: rule.id, store: rule.store, target: store.describe(rule), dependsOn };
    }),
  );
  const order = erasureOrder(nodes);
  return order.map((id) => rules.find((r) => r.id === id)!);
}

/** What a request's line for a rule records about it. */
export function requestRuleLine(runtime: Runtime, rule: Rule, position: number): NewRequestRule {
  return {
    ruleId: rule.id,
    ruleHash: rule.hash,
    store: rule.store,
    target: runtime.storeFor(rule).describe(rule),
    action: rule.action === 'anonymize' ? 'anonymize' : 'delete',
    position,
  };
}

/**
 * The request's rules as the config has them now: lines added for rules that declare a
 * subject since it opened, and moved where the erasure order changed (`lines`: the
 * request's lines as read); returns the rules in erasure order. A line whose rule left the
 * config stays as it was (the receipt shows what was done while it was there).
 */
export async function syncRequestRules(runtime: Runtime, request: RequestRecord, lines: readonly RequestRuleRecord[]): Promise<Rule[]> {
  const rules = await erasureRules(runtime);
  const { state } = runtime;
  const changed = rules
    .map((rule, position) => requestRuleLine(runtime, rule, position))
    .filter((line) => lines.find((l) => l.ruleId === line.ruleId)?.position !== line.position);
  if (changed.length > 0) {
    await withTransaction(state.db, async (tx) => {
      for (const line of changed) await upsertRequestRule(tx, state, request.id, line);
    });
  }
  return rules;
}
