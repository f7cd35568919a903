import type { Command } from 'commander';
import { listAudit } from '../audit/list-audit.js';
import { verifyAudit } from '../audit/verify-audit.js';
import { UserError } from '../errors.js';
import { connectRuntime, openRuntime } from '../runtime/runtime.js';
import { formatTable } from './format-table.js';
import { readConfig, type ConfigOption } from './load-runtime.js';

interface ListOptions extends ConfigOption {
  rule?: string;
  limit?: string;
  json?: boolean;
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('read and verify the audit log');

  audit
    .command('verify')
    .description('walk the hash chain; exit 0 when intact, 1 naming the first broken entry')
    .option('-c, --config <path>', 'config file (default: $RETENTION_CONFIG or config/retention.yaml)')
    .action(async (options: ConfigOption) => {
      const runtime = openRuntime(readConfig(options));
      try {
        await connectRuntime(runtime);
        const result = await verifyAudit(runtime.state);
        if (!result.ok) throw new UserError(`audit log broken at entry ${result.seq}: ${result.problem} (${result.entries} entries before it verify)`, { exitCode: 1 });
        console.log(`audit log intact: ${result.entries} entries, head ${result.head}`);
      } finally {
        await runtime.close();
      }
    });

  audit
    .command('list')
    .description('the most recent audit entries, oldest first')
    .option('-c, --config <path>', 'config file (default: $RETENTION_CONFIG or config/retention.yaml)')
    .option('--rule <id>', 'only entries of this rule')
    .option('--limit <n>', 'how many entries (default 50)')
    .option('--json', 'print JSON, one array of entries')
    .action(async (options: ListOptions) => {
      const limit = options.limit === undefined ? 50 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit: ${JSON.stringify(options.limit)} is not a positive whole number`);
      const runtime = openRuntime(readConfig(options));
      try {
        await connectRuntime(runtime);
        const records = await listAudit(runtime.state, { ...(options.rule ? { ruleId: options.rule } : {}), limit });
        if (options.json) {
          console.log(JSON.stringify(records));
          return;
        }
        console.log(
          formatTable(
            ['seq', 'at', 'event', 'rule', 'action', 'rows', 'dry', 'actor', 'hash'],
            records.map((r) => [r.seq, r.at, r.entry.event, r.entry.ruleId, r.entry.action, r.entry.rows, r.entry.dryRun ? 'yes' : '', r.entry.actor, r.hash.slice(0, 12)]),
          ),
        );
      } finally {
        await runtime.close();
      }
    });
}
