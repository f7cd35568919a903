import type { Command } from 'commander';
import { auditKeyFrom, requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { addHold, checkHoldRequest, HOLD_LOCK_TIMEOUT_MS, type HoldRequest } from '../executor/place-hold.js';
import { releaseHold } from '../executor/release-hold.js';
import { listHolds, type HoldRecord } from '../state/holds.js';
import { STATEMENT_TIMEOUT_MS } from '../stores/postgres/connect.js';
import { formatTable } from './format-table.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { parseInstant } from './parse-instant.js';
import { withStateOnly } from './with-state.js';

interface AddOptions extends ConfigOption {
  subject?: string;
  rule?: string;
  reason?: string;
  until?: string;
  actor?: string;
  lockTimeout?: string;
  json?: boolean;
}

interface ReleaseOptions extends ConfigOption {
  subject?: string;
  reason?: string;
  actor?: string;
  json?: boolean;
}

interface ListOptions extends ConfigOption {
  all?: boolean;
  json?: boolean;
}

/** How much of a subject's digest the table shows: enough to tell holds apart, and to match `audit list`. */
const SHORT_DIGEST = 12;

/** `retention hold`'s subcommands; main.ts names and describes it, and imports this file only when the command runs. */
export function defineHold(hold: Command): void {
  hold
    .command('add')
    .description('place a hold (audited); waits for the batches under way, so when it returns nothing that ignores it runs')
    .option(...CONFIG_OPTION)
    .option('--subject <id>', 'the person to hold, as the rules\' subject holds it (stored only as a digest and encrypted)')
    .option('--rule <id>', 'the rule to hold: the whole rule, or with --subject that subject in this rule (and in rules whose deletes reach its items)')
    .option('--reason <text>', 'why (required; recorded with the hold and in the audit log)')
    .option('--until <iso>', 'when the hold lapses by itself, e.g. 2027-01-01T00:00:00Z (default: until released)')
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .option('--lock-timeout <seconds>', `how long to wait for batches under way (default ${HOLD_LOCK_TIMEOUT_MS / 1000})`)
    .option('--json', 'print the hold as JSON')
    .action(async (_own: AddOptions, command: Command) => {
      const options = command.optsWithGlobals<AddOptions>();
      if (options.reason === undefined) throw new UserError('say why with --reason TEXT: it is recorded with the hold and in the audit log');
      requireAuditKey(auditKeyFrom(process.env));
      const config = readConfig(options);
      const request: HoldRequest = {
        reason: options.reason,
        actor: adminActor(options.actor),
        ...(options.subject === undefined ? {} : { subject: options.subject }),
        ...(options.rule === undefined ? {} : { ruleId: options.rule }),
        ...(options.until === undefined ? {} : { until: parseInstant(options.until, '--until', config.timezone) }),
        ...(options.lockTimeout === undefined ? {} : { lockTimeoutMs: lockTimeoutMs(options.lockTimeout) }),
      };
      // Every mistake is named before the state database is touched.
      const { rule } = checkHoldRequest(config, request);
      await withStateOnly(config, async (runtime) => {
        const placed = await addHold(runtime, request);
        // TTLs an `action: expire` sweep had set on what the hold keeps, lifted before it committed.
        const lifted = placed.ttlsLifted === undefined ? {} : { ttlsLifted: placed.ttlsLifted };
        if (options.json) {
          console.log(JSON.stringify({ ...holdJson(placed), ...lifted }));
          return;
        }
        const reach =
          rule === null
            ? `every rule that declares a subject (${config.rules.filter((r) => r.subject !== null).map((r) => r.id).join(', ') || 'none yet'})`
            : `rule ${rule.id}${placed.subjectDigest === null ? ': its sweeps stop until the hold is released' : ''}`;
        const whom = placed.subjectDigest === null ? 'the whole of ' : `subject ${shortDigest(placed.subjectDigest)} in `;
        const ttls = placed.ttlsLifted === undefined ? '' : `; ${placed.ttlsLifted} TTL(s) lifted from its keys in action: expire rules`;
        console.log(`hold ${placed.id} placed on ${whom}${reach}${placed.until ? `, until ${placed.until.toISOString()}` : ''}${ttls}; recorded as ${placed.createdBy}`);
      });
    });

  hold
    .command('release [id]')
    .description('release a hold by its id, or every hold on a subject (audited)')
    .option(...CONFIG_OPTION)
    .option('--subject <id>', 'release every unreleased hold on this person')
    .option('--reason <text>', 'why (recorded with the release and in the audit log)')
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .option('--json', 'print the released holds as JSON')
    .action(async (id: string | undefined, _own: ReleaseOptions, command: Command) => {
      const options = command.optsWithGlobals<ReleaseOptions>();
      if (id !== undefined && options.subject !== undefined) throw new UserError('give a hold id or --subject ID, not both');
      if (id === undefined && options.subject === undefined) throw new UserError('say which hold to release: its id (see retention hold list) or --subject ID');
      requireAuditKey(auditKeyFrom(process.env));
      await withStateOnly(readConfig(options), async (runtime) => {
        const actor = adminActor(options.actor);
        const released = await releaseHold(runtime, id !== undefined ? { id } : { subject: options.subject! }, options.reason ?? null, actor);
        if (options.json) {
          console.log(JSON.stringify(released.map(holdJson)));
          return;
        }
        for (const h of released) console.log(`released hold ${h.id} (${scopeOf(h)}: ${h.reason}); recorded as ${actor}`);
      });
    });

  hold
    .command('list')
    .description('holds in force (with --all, released and lapsed ones too), newest first; subjects by digest only')
    .option(...CONFIG_OPTION)
    .option('--all', 'also released holds and holds whose --until has passed')
    .option('--json', 'print JSON, one array of holds')
    .action(async (_own: ListOptions, command: Command) => {
      const options = command.optsWithGlobals<ListOptions>();
      await withStateOnly(readConfig(options), async (runtime) => {
        const holds = await listHolds(runtime.state.db.pool, runtime.state, { all: options.all ?? false });
        if (options.json) {
          console.log(JSON.stringify(holds.map(holdJson)));
          return;
        }
        console.log(
          formatTable(
            ['hold', 'subject', 'rule', 'reason', 'until', 'created', 'by', 'released'],
            holds.map((h) => [
              h.id,
              h.subjectDigest === null ? '(whole rule)' : shortDigest(h.subjectDigest),
              h.ruleId ?? 'all rules',
              h.reason,
              h.until?.toISOString() ?? '',
              h.createdAt.toISOString(),
              h.createdBy,
              h.releasedAt ? `${h.releasedAt.toISOString()} by ${h.releasedBy}${h.releaseReason ? ` (${h.releaseReason})` : ''}` : '',
            ]),
          ),
        );
      });
    });
}

/** A hold as commands print it: the subject's digest (never its id), in full for machines. */
function holdJson(h: HoldRecord) {
  return {
    id: h.id,
    subject: h.subjectDigest,
    rule: h.ruleId,
    reason: h.reason,
    until: h.until?.toISOString() ?? null,
    createdAt: h.createdAt.toISOString(),
    createdBy: h.createdBy,
    releasedAt: h.releasedAt?.toISOString() ?? null,
    releasedBy: h.releasedBy,
    releaseReason: h.releaseReason,
  };
}

function scopeOf(h: HoldRecord): string {
  if (h.subjectDigest === null) return `the whole of rule ${h.ruleId}`;
  return `subject ${shortDigest(h.subjectDigest)} in ${h.ruleId === null ? 'all rules' : `rule ${h.ruleId}`}`;
}

const shortDigest = (digest: string) => digest.slice(0, SHORT_DIGEST);

/** A wait longer than one statement may run would end as a statement timeout, not as this message. */
function lockTimeoutMs(text: string): number {
  const seconds = Number(text);
  const max = STATEMENT_TIMEOUT_MS / 1000;
  if (!(Number.isFinite(seconds) && seconds > 0 && seconds <= max)) {
    throw new UserError(`--lock-timeout: ${JSON.stringify(text)} is not a number of seconds above 0 and at most ${max}`);
  }
  // Never 0 ms: PostgreSQL reads a lock_timeout of 0 as "wait forever".
  return Math.ceil(seconds * 1000);
}
