import type { Command } from 'commander';
import type { createRedis } from '../queue/redis-connection.js';
import { runSweeps, type RuleOnHold, type RuleRunResult } from '../queue/run-sweeps.js';
import { describeHold, stoppingHold } from '../people/holds-in-force.js';
import { activeHolds } from '../state/holds.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { UserError } from '../errors.js';
import type { Unjudged } from '../stores/store.js';
import { connectForWork } from './connect-for-work.js';
import { incidentLine, sweepHeldOnly, sweepRecordIncident } from '../audit/never-store-incident.js';
import { onInterrupt } from './interrupt.js';
import { formatTable } from './format-table.js';
import { formatUnjudged } from './format-unjudged.js';
import { adminActor, CONFIG_OPTION, readConfig, selectRules, type ConfigOption } from './load-runtime.js';

interface RunOptions extends ConfigOption {
  rule?: string;
  all?: boolean;
  dryRun?: boolean;
  json?: boolean;
  actor?: string;
  confirm?: string;
}

/** Exit code of a run in which a sweep was blocked by its limits (nothing was touched). */
export const EXIT_BLOCKED = 3;

/** `retention run`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineRun(run: Command): void {
  run
    .option(...CONFIG_OPTION)
    .option('--rule <id>', 'sweep this rule')
    .option('--all', 'sweep every rule')
    .option('--dry-run', 'count what each batch would change, change nothing (still audited, as a dry run)')
    .option('--json', 'print JSON: {"now": ..., "rules": [{"id", "action", "affected"}]}')
    .option('--actor <name>', 'who to record in the audit log (default: admin:<OS user>)')
    .option('--confirm <token>', 'allow a sweep over the rule\'s limits, as `plan` or a blocked run printed it (needs --rule)')
    .action(async (options: RunOptions) => {
      if (!options.rule && !options.all) throw new UserError('say which rules to sweep: --rule ID or --all');
      if (options.rule && options.all) throw new UserError('--rule and --all cannot be combined');
      if (options.confirm && !options.rule) throw new UserError('--confirm confirms one rule\'s sweep: give it with --rule ID');
      const config = readConfig(options);
      const rules = selectRules(config, options.rule);
      const runtime = await openRuntime(config);
      let connection: ReturnType<typeof createRedis> | undefined;
      const interrupt = onInterrupt();
      try {
        connection = await connectForWork(runtime, rules);
        const bar = process.stderr.isTTY && !options.json ? await progressBar() : null;
        bar?.start(1, 0);
        let outcome;
        try {
          outcome = await runSweeps(runtime, rules, {
            connection,
            dryRun: options.dryRun ?? false,
            actor: adminActor(options.actor),
            concurrency: config.worker.concurrency,
            signal: interrupt.signal,
            ...(options.confirm === undefined ? {} : { confirm: options.confirm }),
            onProgress: (done, total) => {
              bar?.setTotal(Math.max(total, 1));
              bar?.update(done);
            },
          });
        } finally {
          bar?.stop();
        }
        const { swept: results, onHold } = outcome;
        const now = results[0]?.sweep.now ?? new Date();
        const blocked = results.filter((r) => r.blocked);
        // What each sweep had to leave because its anchor cannot be judged (missing,
        // malformed, implausible): kept by design, so it must be said, not silently kept.
        const unjudged = new Map<string, Unjudged>();
        for (const { rule } of results) unjudged.set(rule.id, await runtime.storeFor(rule).unjudged(rule));
        // A sweep cancelled by a hold on its rule did what the hold asks: said, not failed.
        const stoppedByHold = await stoppedByRuleHold(runtime, results);
        if (options.json) {
          console.log(
            JSON.stringify({
              now: now.toISOString(),
              dryRun: options.dryRun ?? false,
              // In the order given: each rule was swept, or is on hold.
              rules: rules.map((rule) => {
                const held = onHold.find((x) => x.rule === rule);
                return held ? heldJson(held) : sweptJson(results.find((x) => x.rule === rule)!, unjudged);
              }),
            }),
          );
        } else {
          if (results.length > 0) printResults(results, unjudged, options.dryRun ?? false);
          printHeld(results, onHold, stoppedByHold);
          printIncidents(results);
        }
        // A sweep that ended early did not keep the rule's promise: say which and why.
        const ended = results.filter(
          (r) => (r.sweep.status === 'failed' || r.sweep.status === 'superseded' || r.sweep.status === 'cancelled') && !stoppedByHold.has(r),
        );
        if (ended.length > 0) {
          throw new UserError(
            ended
              .map(
                ({ rule, sweep }) =>
                  `rule ${rule.id}: sweep ${sweep.id} ${sweep.status} after ${sweep.batchesDone}/${sweep.batchesTotal} batches (${sweep.rowsAffected} rows): ${sweep.reason ?? 'no reason recorded'}`,
              )
              .join('\n') + '\n  The rule is not blocked by it: the next run plans a fresh sweep (see retention sweeps).',
            { exitCode: 1 },
          );
        }
        if (blocked.length > 0) {
          throw new UserError(
            blocked
              .map(
                ({ rule, blocked: b }) =>
                  `rule ${rule.id} was blocked and nothing was touched: it ${b!.reason}.\n` +
                  `  Check with: retention plan --rule ${rule.id}\n` +
                  `  If this is intended: retention run --rule ${rule.id} --confirm ${b!.confirmToken}\n` +
                  `  (or raise limits.maxFraction / limits.maxRowsPerRun for the rule in ${config.file})`,
              )
              .join('\n'),
            { exitCode: EXIT_BLOCKED },
          );
        }
      } finally {
        interrupt.dispose();
        connection?.disconnect();
        await runtime.close();
      }
    });
}

/** The bar a run draws on a terminal; cli-progress (~20 modules) is imported only then, never by a cron job or --json. */
async function progressBar() {
  const { default: cliProgress } = await import('cli-progress');
  return new cliProgress.SingleBar({ format: 'sweeping |{bar}| {value}/{total} batches', stream: process.stderr }, cliProgress.Presets.shades_classic);
}

function printResults(results: readonly RuleRunResult[], unjudged: ReadonlyMap<string, Unjudged>, dryRun: boolean): void {
  console.log(
    formatTable(
      ['rule', 'action', dryRun ? 'would affect' : 'affected', 'not judged', 'status', 'batches', 'sweep', 'now'],
      results.map((r) => [
        r.rule.id,
        r.rule.action,
        r.blocked ? 'blocked' : r.sweep.rowsAffected,
        formatUnjudged(unjudged.get(r.rule.id) ?? {}),
        r.sweep.status,
        r.sweep.batchesTotal,
        r.sweep.id + (r.joined ? ' (joined)' : ''),
        r.sweep.now.toISOString(),
      ]),
    ),
  );
}

/** What a run says of holds: items kept in each rule, and rules not swept at all. */
function printHeld(results: readonly RuleRunResult[], onHold: readonly RuleOnHold[], stoppedByHold: ReadonlyMap<RuleRunResult, string>): void {
  for (const r of results.filter((x) => x.held > 0)) {
    console.log(`${r.rule.id}: ${r.held} item(s) kept because their subject is on legal hold`);
  }
  for (const [r, hold] of stoppedByHold) {
    console.log(`rule ${r.rule.id} is on legal ${hold}: sweep ${r.sweep.id} stopped after ${r.sweep.batchesDone}/${r.sweep.batchesTotal} batches (${r.sweep.rowsAffected} rows)`);
  }
  for (const { rule, held } of onHold) console.log(`rule ${rule.id} is on legal ${held.hold}: not swept`);
}

function sweptJson(r: RuleRunResult, unjudged: ReadonlyMap<string, Unjudged>) {
  return {
    id: r.rule.id,
    action: r.rule.action,
    affected: r.sweep.rowsAffected,
    status: r.sweep.status,
    unjudged: unjudged.get(r.rule.id) ?? {},
    ...(r.blocked ? { blocked: r.blocked } : {}),
    ...(r.sweep.reason ? { reason: r.sweep.reason } : {}),
    ...(r.held > 0 ? { held: r.held } : {}),
    ...incidentJson(r),
  };
}

/**
 * Never-store rules: a sweep that found anything is an incident (its closing audit entry
 * records it), said on a line of its own so that it cannot be missed in a table. A dry run
 * records none (the real sweep will), but says what it found; so does a sweep that found
 * only items a legal hold keeps (no new incident: every sweep while the hold lasts finds them).
 */
function printIncidents(results: readonly RuleRunResult[]): void {
  for (const r of results) {
    const incident = sweepRecordIncident(r.sweep);
    const held = incident ? null : sweepHeldOnly(r.sweep);
    if (incident) console.log(incidentLine(incident));
    else if (held !== null) {
      console.log(`never-store rule ${r.rule.id} found ${held} item(s) in ${r.sweep.summary.target}, all kept because their subject is on legal hold (no new incident)`);
    } else if (r.rule.never && r.sweep.dryRun && r.sweep.rowsAffected > 0) {
      console.log(`never-store rule ${r.rule.id} found ${r.sweep.rowsAffected} item(s) in ${r.sweep.summary.target} (dry run: nothing changed; a real sweep removes them and records an incident)`);
    }
  }
}

/**
 * `incident` in `run --json`: found, changed, held and whether the sweep was blocked; or
 * `neverStoreHeld`, the items found when all were kept on legal hold (no incident).
 */
function incidentJson(r: RuleRunResult) {
  const incident = sweepRecordIncident(r.sweep);
  if (!incident) {
    const held = sweepHeldOnly(r.sweep);
    return held === null ? {} : { neverStoreHeld: held };
  }
  return { incident: { found: incident.found, changed: incident.changed, held: incident.held, blocked: incident.blocked, target: incident.table } };
}

function heldJson({ rule, held }: RuleOnHold) {
  return { id: rule.id, action: rule.action, affected: 0, status: 'held', hold: { id: held.holdId, reason: held.reason, until: held.until } };
}

/** Cancelled sweeps whose rule is on legal hold now (their batches read the hold and stopped), with the hold. */
async function stoppedByRuleHold(runtime: Runtime, results: readonly RuleRunResult[]): Promise<Map<RuleRunResult, string>> {
  const cancelled = results.filter((r) => r.sweep.status === 'cancelled');
  if (cancelled.length === 0) return new Map();
  const holds = await activeHolds(runtime.state.db.pool, runtime.state);
  return new Map(
    cancelled.flatMap((r) => {
      const hold = stoppingHold(holds, r.rule, runtime.config.rules);
      return hold ? [[r, describeHold(hold)] as const] : [];
    }),
  );
}
