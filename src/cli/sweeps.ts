import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { endSweep } from '../executor/end-sweep.js';
import { findSweep, listSweeps, SWEEP_STATUSES, type SweepRecord, type SweepStatus } from '../state/sweeps.js';
import { formatTable } from './format-table.js';
import { withStateOnly } from './with-state.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

interface ListOptions extends ConfigOption {
  rule?: string;
  status?: string;
  limit?: string;
  json?: boolean;
}

interface CancelOptions extends ConfigOption {
  reason?: string;
  actor?: string;
}

const DEFAULT_LIMIT = 50;

/** `retention sweeps`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineSweeps(sweeps: Command): void {
  sweeps
    .option(...CONFIG_OPTION)
    .option('--rule <id>', 'only sweeps of this rule')
    .option('--status <status>', `only sweeps in this status (${SWEEP_STATUSES.join(', ')})`)
    .option('--limit <n>', `how many of the most recent (default ${DEFAULT_LIMIT})`)
    .option('--json', 'print JSON, one array of sweeps')
    .action(async (options: ListOptions) => {
      const status = options.status;
      if (status !== undefined && !SWEEP_STATUSES.includes(status as SweepStatus)) {
        throw new UserError(`--status: ${JSON.stringify(status)} is not a sweep status (${SWEEP_STATUSES.join(', ')})`);
      }
      const limit = options.limit === undefined ? DEFAULT_LIMIT : Number(options.limit);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new UserError(`--limit: ${JSON.stringify(options.limit)} is not a positive whole number`);
      await withStateOnly(readConfig(options), async (runtime) => {
        const records = await listSweeps(runtime.state, {
          ...(options.rule === undefined ? {} : { ruleId: options.rule }),
          ...(status === undefined ? {} : { status: status as SweepStatus }),
          limit,
        });
        if (options.json) {
          console.log(JSON.stringify(records.map(sweepJson)));
          return;
        }
        console.log(
          formatTable(
            ['sweep', 'rule', 'status', 'trigger', 'actor', 'dry', 'batches', 'rows', 'created', 'finished', 'reason'],
            records.map((s) => [
              s.id,
              s.ruleId,
              s.status,
              s.trigger,
              s.actor,
              s.dryRun ? 'yes' : '',
              `${s.batchesDone}/${s.batchesTotal}`,
              s.rowsAffected,
              s.createdAt.toISOString(),
              s.finishedAt?.toISOString() ?? '',
              s.reason ?? s.blocked?.reason ?? '',
            ]),
          ),
        );
      });
    });

  sweeps
    .command('cancel <id>')
    .description('end a running sweep as cancelled (audited); its queued batches then do nothing, and the next trigger plans a fresh sweep')
    .option(...CONFIG_OPTION)
    .option('--reason <text>', 'why (required; recorded in the audit log)')
    .option('--actor <name>', 'who to record in the audit log (default: admin:<OS user>)')
    .action(async (id: string, _own: CancelOptions, command: Command) => {
      // The parent command takes `--config` wherever it comes: read both levels.
      const options = command.optsWithGlobals<CancelOptions>();
      const reason = options.reason?.trim();
      if (!reason) throw new UserError('say why with --reason TEXT: it is recorded in the audit log');
      await withStateOnly(readConfig(options), async (runtime) => {
        const sweep = await findSweep(runtime.state, id);
        if (!sweep) throw new UserError(`no sweep ${JSON.stringify(id)} in ${runtime.state.schema} (list them with: retention sweeps)`);
        if (sweep.status !== 'running') throw new UserError(`sweep ${id} of rule ${sweep.ruleId} is ${sweep.status}, not running: nothing to cancel`);
        const actor = adminActor(options.actor);
        const ended = await endSweep(runtime, id, 'cancelled', reason, { actor });
        if (!ended) {
          const now = await findSweep(runtime.state, id);
          throw new UserError(`sweep ${id} of rule ${sweep.ruleId} ended (${now?.status ?? 'gone'}) before it could be cancelled`);
        }
        console.log(`cancelled sweep ${id} of rule ${sweep.ruleId} (${sweep.batchesDone}/${sweep.batchesTotal} batches done, ${sweep.rowsAffected} rows); recorded as ${actor}`);
      });
    });
}


function sweepJson(s: SweepRecord) {
  return {
    id: s.id,
    rule: s.ruleId,
    status: s.status,
    trigger: s.trigger,
    actor: s.actor,
    dryRun: s.dryRun,
    batchesDone: s.batchesDone,
    batchesTotal: s.batchesTotal,
    rows: s.rowsAffected,
    createdAt: s.createdAt.toISOString(),
    finishedAt: s.finishedAt?.toISOString() ?? null,
    reason: s.reason ?? s.blocked?.reason ?? null,
  };
}
