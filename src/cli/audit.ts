import { appendFileSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { checkpointLine, readCheckpoints, signCheckpoint, type AuditCheckpoint } from '../audit/audit-checkpoint.js';
import { auditKeyFrom, requireAuditKey } from '../audit/audit-key.js';
import { listAudit } from '../audit/list-audit.js';
import type { AuditEntry } from '../audit/audit-entry.js';
import { heldOnlyOf, incidentOf } from '../audit/never-store-incident.js';
import { verifyAudit, type VerifyResult } from '../audit/verify-audit.js';
import { UserError } from '../errors.js';
import { connectRuntime, openRuntime, type Runtime } from '../runtime/runtime.js';
import { formatLag } from './format-lag.js';
import { formatTable } from './format-table.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';

interface ListOptions extends ConfigOption {
  rule?: string;
  limit?: string;
  json?: boolean;
}

interface VerifyOptions extends ConfigOption {
  against?: string;
}

interface CheckpointOptions extends ConfigOption {
  out?: string;
}

/** `retention audit`'s subcommands; main.ts names and describes it, and imports this file only when the command runs. */
export function defineAudit(audit: Command): void {
  audit
    .command('verify')
    .description('walk the keyed hash chain (needs $RETENTION_AUDIT_KEY); exit 0 when intact, 1 naming the first broken entry')
    .option(...CONFIG_OPTION)
    .option('--against <file>', 'also prove nothing was cut or rewritten up to each checkpoint in this file (from `audit checkpoint --out`)')
    .action(async (options: VerifyOptions) => {
      const config = readConfig(options);
      const key = requireAuditKey(auditKeyFrom(process.env));
      const against = options.against === undefined ? undefined : checkpointsFrom(options.against, key, config.stateSchema);
      await withRuntime(config, async (runtime) => {
        const result = okOrThrow(await verifyAudit(runtime.state, against ? { against } : {}));
        console.log(`audit log intact: ${result.entries} entries, head ${result.head}`);
        if (against) console.log(`checked against ${result.checkpoints} checkpoint(s) in ${options.against}: nothing up to them was cut or rewritten`);
        if (result.legacy > 0) {
          console.log(
            `warning: entries 1-${result.legacy} are unkeyed legacy entries (written before the chain was keyed): ` +
              'anyone who can write to the state database could have rewritten them; only a checkpoint taken since proves them',
          );
        }
      });
    });

  audit
    .command('checkpoint')
    .description('verify the log, then sign its head (seq, hash, time) for a store outside the database; needs $RETENTION_AUDIT_KEY')
    .option(...CONFIG_OPTION)
    .option('--out <file>', 'append the signed line to this file (verified against it first); default: print it')
    .action(async (options: CheckpointOptions) => {
      const config = readConfig(options);
      const key = requireAuditKey(auditKeyFrom(process.env));
      // Never sign the head of a log already cut after an earlier checkpoint in the file.
      const against = options.out === undefined ? undefined : checkpointsFrom(options.out, key, config.stateSchema, { missingOk: true });
      await withRuntime(config, async (runtime) => {
        const result = okOrThrow(await verifyAudit(runtime.state, against ? { against } : {}));
        const at = (await runtime.state.db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now.toISOString();
        const line = checkpointLine(signCheckpoint(key, { schema: config.stateSchema, seq: result.entries, hash: result.head, at }));
        if (options.out === undefined) {
          console.log(line);
          return;
        }
        appendFileSync(options.out, `${line}\n`);
        console.log(`checkpoint of entry ${result.entries} (head ${result.head}) appended to ${options.out}; keep it where the database's users cannot write`);
      });
    });

  audit
    .command('list')
    .description('the most recent audit entries, oldest first')
    .option(...CONFIG_OPTION)
    .option('--rule <id>', 'only entries of this rule')
    .option('--limit <n>', 'how many entries (default 50)')
    .option('--json', 'print JSON, one array of entries')
    .action(async (options: ListOptions) => {
      const limit = options.limit === undefined ? 50 : Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new UserError(`--limit: ${JSON.stringify(options.limit)} is not a positive whole number`);
      await withRuntime(readConfig(options), async (runtime) => {
        const records = await listAudit(runtime.state, { ...(options.rule ? { ruleId: options.rule } : {}), limit });
        if (options.json) {
          console.log(JSON.stringify(records));
          return;
        }
        console.log(
          formatTable(
            ['seq', 'at', 'event', 'rule', 'action', 'rows', 'lag', 'dry', 'actor', 'incident', 'hash'],
            records.map((r) => [
              r.seq,
              r.at,
              r.entry.event,
              r.entry.ruleId ?? '',
              r.entry.action ?? '',
              r.entry.rows,
              // A sweep's closing entry: how late it was, when planned, for its oldest expired item.
              'lagMs' in r.entry && typeof r.entry.lagMs === 'number' ? formatLag(r.entry.lagMs) : '',
              r.entry.dryRun ? 'yes' : '',
              r.entry.actor,
              // A never-store rule's sweep that found its data present.
              incidentCell(r.entry),
              r.hash.slice(0, 12),
            ]),
          ),
        );
      });
    });
}

/**
 * `INCIDENT: 3 found` (with how many a hold kept, or that the sweep was blocked); `2 held, no
 * new incident` for a sweep that found only items a legal hold keeps; or empty.
 */
function incidentCell(entry: AuditEntry): string {
  const incident = incidentOf(entry);
  if (!incident) {
    const held = heldOnlyOf(entry);
    return held === null ? '' : `${held} held, no new incident`;
  }
  const details = [incident.held > 0 ? `${incident.held} held` : '', incident.blocked ? 'blocked' : ''].filter(Boolean);
  return `INCIDENT: ${incident.found} found${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
}

async function withRuntime(config: ReturnType<typeof readConfig>, body: (runtime: Runtime) => Promise<void>): Promise<void> {
  const runtime = await openRuntime(config);
  try {
    await connectRuntime(runtime);
    await body(runtime);
  } finally {
    await runtime.close();
  }
}

function okOrThrow(result: VerifyResult): Extract<VerifyResult, { ok: true }> {
  if (!result.ok) throw new UserError(`audit log broken at entry ${result.seq}: ${result.problem} (${result.entries} entries before it verify)`, { exitCode: 1 });
  return result;
}

/** The signed checkpoints of this schema in `file`; a line that does not verify fails (exit 1). */
function checkpointsFrom(file: string, key: Buffer, schema: string, options: { missingOk?: boolean } = {}): AuditCheckpoint[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && options.missingOk) return [];
    throw new UserError(`cannot read the checkpoint file ${file}: ${(error as Error).message}`);
  }
  const read = readCheckpoints(text, key, schema);
  if (!read.ok) throw new UserError(`checkpoint file ${file}: line ${read.line} ${read.problem}`, { exitCode: 1 });
  if (read.checkpoints.length === 0 && !options.missingOk) {
    throw new UserError(`checkpoint file ${file} holds no checkpoint of state schema ${schema}${read.otherSchemas > 0 ? ` (${read.otherSchemas} of other schemas)` : ''}`);
  }
  return read.checkpoints;
}
