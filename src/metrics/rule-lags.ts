import { databaseNow } from '../state/database-now.js';
import { sweepLag } from '../executor/next-expiry.js';
import { heldSubjects, stoppingHold } from '../people/holds-in-force.js';
import { planSweep } from '../planner/plan-sweep.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, type HoldRecord } from '../state/holds.js';
import type { StateDb } from '../state/state-db.js';
import { CachedProbe } from './cached-probe.js';

/** How long a rule's lag is served from the cache: a probe reads an index, not the table, but every scrape would still be a query per rule. */
export const LAG_TTL_MS = 15_000;
/** How long a scrape waits for one store's probes; a slower store gives its rules no sample this time. */
export const LAG_TIMEOUT_MS = 5_000;

/**
 * Each rule's retention lag in seconds: how long ago the oldest expired item still present
 * reached the end of its period (0 when none is), at the state database's clock, as
 * `retention plan` computes it (src/executor/next-expiry.ts `sweepLag`; items a subject
 * hold keeps are left out when the held ids can be opened). A rule whose store cannot tell
 * (a kind without `oldestPending`), whose anchor has no index (the probe would read the
 * whole table on every scrape; `Store.anchorIndexed`), that a legal hold stops (its data is
 * kept by law, not late), or whose probe failed or is still running, is absent: no
 * sample, never a 0 that would read as "on time".
 *
 * Probes run on scrape, per store: one store's rules one after the other (a store is never
 * probed in parallel by this), the stores side by side, each store cached for `ttlMs` and
 * waited for at most `timeoutMs` (src/metrics/cached-probe.ts).
 */
export class RuleLags {
  readonly #probes: { rules: Rule[]; probe: CachedProbe<Map<string, number | null>> }[];

  /** `state`: the state database to read the clock and holds from (the worker's observer pool), else the runtime's. */
  constructor(runtime: Runtime, options: { ttlMs?: number; timeoutMs?: number; state?: StateDb } = {}) {
    const byStore = new Map<string, Rule[]>();
    for (const rule of runtime.config.rules) byStore.set(rule.store, [...(byStore.get(rule.store) ?? []), rule]);
    this.#probes = [...byStore.values()].map((rules) => ({
      rules,
      probe: new CachedProbe(() => probeRules(runtime, rules, options.state ?? runtime.state), { ttlMs: options.ttlMs ?? LAG_TTL_MS, timeoutMs: options.timeoutMs ?? LAG_TIMEOUT_MS }),
    }));
  }

  /** Rule id -> lag in seconds, for the rules that have a sample now. */
  async read(): Promise<Map<string, number>> {
    const lags = new Map<string, number>();
    const stores = await Promise.all(this.#probes.map(({ probe }) => probe.get()));
    for (const store of stores) {
      for (const [ruleId, seconds] of store ?? []) if (seconds !== null) lags.set(ruleId, seconds);
    }
    return lags;
  }
}

/** One store's rules, one after the other: rule id -> lag in seconds, null when the store cannot tell or the probe failed. */
async function probeRules(runtime: Runtime, rules: readonly Rule[], state: StateDb): Promise<Map<string, number | null>> {
  const now = await databaseNow(state.db.pool);
  const holds = await activeHolds(state.db.pool, state);
  const lags = new Map<string, number | null>();
  for (const rule of rules) {
    try {
      // A rule on legal hold is kept by law, not late: no sample, so a lag alert does not fire for it.
      if (stoppingHold(holds, rule, runtime.config.rules)) {
        lags.set(rule.id, null);
        continue;
      }
      // Without an index on the anchor the probe would read the whole table on every scrape.
      const store = runtime.storeFor(rule);
      if (store.anchorIndexed && !(await store.anchorIndexed(rule))) {
        lags.set(rule.id, null);
        continue;
      }
      const lag = await sweepLag(runtime, rule, now, planSweep(rule, now).ranges, heldOrNone(holds, runtime, rule));
      lags.set(rule.id, lag === null ? null : lag.lagMs / 1000);
    } catch {
      // This rule's probe failed (its table changed, a lock): no sample, the others go on.
      lags.set(rule.id, null);
    }
  }
  return lags;
}

/**
 * The subjects whose items holds keep in `rule`, left out of its lag as `plan` leaves them
 * out; none when they cannot be opened (no audit key): then held items count, as they do
 * in a sweep's recorded lag, since they are past their date.
 */
function heldOrNone(holds: readonly HoldRecord[], runtime: Runtime, rule: Rule): string[] {
  try {
    return heldSubjects(holds, runtime.auditKey, rule, runtime.config.rules);
  } catch {
    return [];
  }
}
