import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { UserError } from '../errors.js';
import type { AnchorRange } from '../policy/expiry.js';
import { planSweep } from '../planner/plan-sweep.js';
import { openRuntime } from '../runtime/runtime.js';
import { formatTable } from './format-table.js';
import { configProblemsError, inspectLive } from './inspect-config.js';
import { readConfig, selectRules, type ConfigOption } from './load-runtime.js';

interface PlanOptions extends ConfigOption {
  rule?: string;
  now?: string;
  json?: boolean;
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('preview: how many rows each rule would delete or anonymize now (or at --now); changes nothing')
    .option('-c, --config <path>', 'config file (default: $RETENTION_CONFIG or config/retention.yaml)')
    .option('--rule <id>', 'only this rule')
    .option('--now <iso>', 'judge expiry at this instant instead of the state database clock, e.g. 2027-01-01T00:00:00Z')
    .option('--json', 'print JSON: {"now": ..., "rules": [{"id", "action", "affected"}]}')
    .action(async (options: PlanOptions) => {
      const config = readConfig(options);
      const rules = selectRules(config, options.rule);
      const runtime = openRuntime(config);
      try {
        const problems = await inspectLive(runtime, rules, { redis: false });
        if (problems.length > 0) throw configProblemsError(config, problems);
        const now = options.now === undefined ? await databaseNow(runtime) : parseNow(options.now);
        const cache = new Map<string, AnchorRange[]>();
        const results = [];
        for (const rule of rules) {
          const plan = planSweep(rule, now, cache);
          const affected = await runtime.storeFor(rule).count(rule, plan.ranges, runtime.contextFor(rule));
          results.push({ rule, affected, dueBefore: latestExpired(plan.ranges) });
        }
        if (options.json) {
          console.log(JSON.stringify({ now: now.toISOString(), rules: results.map((r) => ({ id: r.rule.id, action: r.rule.action, affected: r.affected })) }));
          return;
        }
        console.log(`now: ${now.toISOString()}${options.now === undefined ? ' (state database clock)' : ' (--now)'}\n`);
        console.log(
          formatTable(
            ['rule', 'action', 'table', 'retain', 'anchors up to', 'affected'],
            results.map((r) => [r.rule.id, r.rule.action, r.rule.table.schema ? `${r.rule.table.schema}.${r.rule.table.name}` : r.rule.table.name, r.rule.retain, r.dueBefore, r.affected]),
          ),
        );
      } finally {
        await runtime.close();
      }
    });
}

async function databaseNow(runtime: ReturnType<typeof openRuntime>): Promise<Date> {
  const { rows } = await runtime.state.db.pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now;
}

function parseNow(text: string): Date {
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) throw new UserError(`--now: ${JSON.stringify(text)} is not an ISO-8601 instant, e.g. 2027-01-01T00:00:00Z`);
  return parsed.toJSDate();
}

/** The latest anchor in the leading (-inf, t] range: "anchors up to t are expired", for humans. */
function latestExpired(ranges: readonly AnchorRange[]): string {
  const first = ranges[0];
  if (!first || first.from !== null) return '-';
  return new Date(first.to).toISOString() + (ranges.length > 1 ? ` (+${ranges.length - 1} more)` : '');
}
