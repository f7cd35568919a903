import type { Command } from 'commander';
import { requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { replayErasures, type ErasureReplay } from '../executor/replay-erasures.js';
import type { createRedis } from '../queue/redis-connection.js';
import { replaySweeps, type SweepsReplay } from '../queue/replay-sweeps.js';
import type { RuleRunResult } from '../queue/run-sweeps.js';
import { openRuntime } from '../runtime/runtime.js';
import { connectForWork } from './connect-for-work.js';
import { onInterrupt } from './interrupt.js';
import { formatTable } from './format-table.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { parseInstant } from './parse-instant.js';
import { EXIT_BLOCKED } from './run.js';

interface ReplayOptions extends ConfigOption {
  since?: string;
  dryRun?: boolean;
  json?: boolean;
  actor?: string;
}

/** `retention replay`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineReplay(replay: Command): void {
  replay
    .option(...CONFIG_OPTION)
    .requiredOption('--since <iso>', 'when the restored backup was taken (its snapshot\'s start; earlier is safe, later is not)')
    .option('--dry-run', 'count what would be erased and swept again, change nothing (sweeps are audited as dry runs)')
    .option('--json', 'print JSON: {"since", "dryRun", "rules": [{"id", "erasure", "sweep"}]}')
    .option('--actor <name>', 'who to record in the audit log (default: admin:<OS user>)')
    .action(async (options: ReplayOptions) => {
      const config = readConfig(options);
      const since = parseInstant(options.since!, '--since', config.timezone);
      const runtime = await openRuntime(config);
      const dryRun = options.dryRun ?? false;
      const actor = adminActor(options.actor);
      let connection: ReturnType<typeof createRedis> | undefined;
      const interrupt = onInterrupt();
      try {
        // The ledger matches people by digest under the audit key; without it nothing matches.
        requireAuditKey(runtime.auditKey);
        connection = await connectForWork(runtime, config.rules);
        // People first: their erasure was owed before any rule's sweep.
        const erasures = await replayErasures(runtime, since, { actor, dryRun });
        const sweeps = await replaySweeps(runtime, since, { connection, dryRun, actor, concurrency: config.worker.concurrency, signal: interrupt.signal });
        const ids = [...new Set([...erasures.map((e) => e.ruleId), ...sweeps.swept.map((s) => s.rule.id), ...sweeps.onHold.map((h) => h.rule.id), ...sweeps.missing])];
        if (options.json) {
          console.log(JSON.stringify({ since: since.toISOString(), dryRun, rules: ids.map((id) => ruleJson(id, erasures, sweeps)) }));
        } else {
          printReplay(ids, erasures, sweeps, since, dryRun);
        }
        failIfIncomplete(erasures, sweeps, config.file);
      } finally {
        interrupt.dispose();
        connection?.disconnect();
        await runtime.close();
      }
    });
}

function ruleJson(id: string, erasures: readonly ErasureReplay[], sweeps: SweepsReplay) {
  const erasure = erasures.find((e) => e.ruleId === id);
  const swept = sweeps.swept.find((s) => s.rule.id === id);
  const held = sweeps.onHold.find((h) => h.rule.id === id);
  return {
    id,
    erasure: erasure ?? null,
    sweep: swept
      ? {
          status: swept.sweep.status,
          sweepId: swept.sweep.id,
          affected: swept.sweep.rowsAffected,
          ...(swept.held > 0 ? { held: swept.held } : {}),
          ...(swept.blocked ? { blocked: swept.blocked } : {}),
          ...(swept.sweep.reason ? { reason: swept.sweep.reason } : {}),
        }
      : held
        ? { status: 'held', hold: { id: held.held.holdId, reason: held.held.reason, until: held.held.until } }
        : sweeps.missing.includes(id)
          ? { status: 'missing' }
          : null,
  };
}

function printReplay(ids: readonly string[], erasures: readonly ErasureReplay[], sweeps: SweepsReplay, since: Date, dryRun: boolean): void {
  if (ids.length === 0) {
    console.log(`nothing to replay: no erasure and no sweep changed anything at or after ${since.toISOString()}`);
    return;
  }
  console.log(
    formatTable(
      ['rule', 'people erased since', 'found again', dryRun ? 'would erase' : 'erased again', 'held kept', 'sweep', dryRun ? 'would sweep' : 'swept again'],
      ids.map((id) => {
        const e = erasures.find((x) => x.ruleId === id);
        const s = sweeps.swept.find((x) => x.rule.id === id);
        const sweepStatus = s ? (s.blocked ? 'blocked' : s.sweep.status) : sweeps.onHold.some((h) => h.rule.id === id) ? 'held' : sweeps.missing.includes(id) ? 'missing' : '';
        return [
          id,
          e ? e.subjects : '',
          e ? (e.status === 'replayed' ? e.found : e.status) : '',
          e ? e.rows : '',
          (e?.held.length ?? 0) + (s?.held ?? 0),
          sweepStatus,
          s && !s.blocked ? s.sweep.rowsAffected : '',
        ];
      }),
    ),
  );
  for (const e of erasures) {
    for (const h of e.held) console.log(`${e.ruleId}: a person erased by request ${h.requestId} is back and kept: ${h.reason}`);
    if (e.reason) console.log(`${e.ruleId}: ${e.status}: ${e.reason}`);
  }
  for (const s of sweeps.swept.filter((x) => x.held > 0)) console.log(`${s.rule.id}: ${s.held} expired item(s) kept because their subject is on legal hold`);
  for (const { rule, held } of sweeps.onHold) console.log(`rule ${rule.id} is on legal ${held.hold}: not swept`);
}

/** Replay that left a restored person or expired item in place (other than for a hold) fails, saying which and why. */
function failIfIncomplete(erasures: readonly ErasureReplay[], sweeps: SweepsReplay, file: string): void {
  const problems: string[] = [];
  for (const e of erasures) {
    if (e.status !== 'replayed') {
      problems.push(`rule ${e.ruleId}: ${e.subjects} person(s) erased since could not be looked for: ${e.reason}`);
    } else if (e.left > 0) {
      problems.push(`rule ${e.ruleId}: ${e.left} item(s) of people erased since are still there after replay (they changed meanwhile, or the store refused them); run replay again`);
    }
  }
  for (const id of sweeps.missing) problems.push(`rule ${id}: swept since but no longer in ${file}: not swept again`);
  const ended = sweeps.swept.filter((s: RuleRunResult) => ['failed', 'superseded', 'cancelled'].includes(s.sweep.status));
  for (const { rule, sweep } of ended) problems.push(`rule ${rule.id}: sweep ${sweep.id} ${sweep.status}: ${sweep.reason ?? 'no reason recorded'}`);
  const blocked = sweeps.swept.filter((s) => s.blocked);
  const confirm = blocked.map(
    ({ rule, blocked: b }) =>
      `rule ${rule.id} was blocked and nothing was touched: it ${b!.reason}.\n` +
      `  Check with: retention plan --rule ${rule.id}\n` +
      `  If this is intended: retention run --rule ${rule.id} --confirm ${b!.confirmToken}`,
  );
  if (problems.length > 0) throw new UserError([...problems, ...confirm].join('\n'), { exitCode: 1 });
  if (confirm.length > 0) throw new UserError(confirm.join('\n'), { exitCode: EXIT_BLOCKED });
}
