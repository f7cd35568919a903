import { appendAudit } from '../audit/append-audit.js';
import type { Runtime } from '../runtime/runtime.js';
import { rulesSweptSince } from '../state/swept-since.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { runSweeps, type RuleOnHold, type RuleRunResult, type RunSweepsOptions } from './run-sweeps.js';

export interface SweepsReplay {
  /** Each rule swept again, as `runSweeps` returns it (a blocked one carries its token). */
  swept: RuleRunResult[];
  /** Rules on legal hold: not swept. */
  onHold: RuleOnHold[];
  /** Rules swept since that the config no longer has: not swept (nothing says what they would select now). */
  missing: string[];
}

/**
 * After a restore: sweeps again, now, every rule whose sweeps deleted or anonymized items
 * at or after `since` (the backup's time), through the normal path (`runSweeps`: limits,
 * confirmation, holds and audit as for `retention run`). Those items came back with the
 * restore and have expired since.
 *
 * Sweeping at the current `now` covers every older sweep's instant: for one rule
 * definition an anchor expired at an earlier `now` is expired at every later one (its
 * expired ranges only grow with time), so every item those sweeps changed is selected
 * again, along with what expired in between. When the rule changed since (its retain,
 * filters or action), the current definition decides, as it decides every sweep: what it
 * keeps now is kept, even if an older sweep removed it before the restore. A rule that
 * left the config is reported, not swept.
 *
 * A sweep of the rule still running (begun before this replay, maybe before the restore)
 * is joined and waited for; its batches done before the restore will not run again, so
 * the rule is then swept once more.
 */
export async function replaySweeps(runtime: Runtime, since: Date, options: RunSweepsOptions): Promise<SweepsReplay> {
  const { state, config } = runtime;
  const swept = await rulesSweptSince(state.db.pool, state, since);
  const rules = config.rules.filter((r) => swept.some((s) => s.ruleId === r.id));
  const missing = swept.filter((s) => !config.rules.some((r) => r.id === s.ruleId)).map((s) => s.ruleId);
  if (rules.length === 0) return { swept: [], onHold: [], missing };

  const first = await runSweeps(runtime, rules, options);
  const joined = first.swept.filter((r) => r.joined && r.sweep.status === 'done');
  const again = joined.length > 0 ? await runSweeps(runtime, joined.map((r) => r.rule), options) : { swept: [], onHold: [] };
  const results = first.swept.map((r) => again.swept.find((x) => x.rule === r.rule) ?? r);
  const onHold = [...first.onHold, ...again.onHold];

  // A dry run is audited as one by its batches; people entries are never dry.
  if (!options.dryRun) {
    await withTransaction(state.db, async (tx) => {
      for (const { rule, sweep, blocked } of results) {
        if (blocked || sweep.status !== 'done') continue;
        await appendAudit(tx, state, {
          event: 'replayed',
          ruleId: rule.id,
          ruleSource: rule.source,
          ruleHash: rule.hash,
          configHash: config.hash,
          store: rule.store,
          table: sweep.summary.target,
          action: rule.action,
          rows: sweep.rowsAffected,
          actor: options.actor,
          replay: { of: 'sweep', since: since.toISOString() },
          sweepId: sweep.id,
        });
      }
    });
  }
  return { swept: results, onHold, missing };
}
