import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { expireRequests } from '../executor/expire-requests.js';
import { extendRequestDeadline } from '../executor/extend-request.js';
import { daysLeft } from '../people/deadlines.js';
import { appendAudit } from '../audit/append-audit.js';
import { acknowledgeRequest, listRequests, readRequestRules, type RequestRecord } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';
import type { Runtime } from '../runtime/runtime.js';
import { formatTable } from './format-table.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { withStateOnly } from './with-state.js';

interface ListOptions extends ConfigOption {
  open?: boolean;
  overdue?: boolean;
  json?: boolean;
}

interface ChangeOptions extends ConfigOption {
  reason?: string;
  actor?: string;
  json?: boolean;
}

/** `retention requests`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineRequests(requests: Command): void {
  requests
    .option(...CONFIG_OPTION)
    .option('--open', 'only requests not yet complete')
    .option('--overdue', 'only requests not complete and past their deadline or their acknowledgement deadline')
    .option('--json', 'print JSON, one array of requests')
    .action(async (options: ListOptions) => {
      await withStateOnly(readConfig(options), async (runtime) => {
        const { rows } = await runtime.state.db.pool.query<{ now: Date }>('SELECT now() AS now');
        const now = rows[0]!.now;
        const list = await listRequests(runtime.state.db.pool, runtime.state, { ...(options.open ? { open: true } : {}), ...(options.overdue ? { overdue: true } : {}) });
        const shown = await Promise.all(list.map(async (r) => requestJson(runtime, r, now)));
        if (options.json) {
          console.log(JSON.stringify(shown));
          return;
        }
        console.log(
          formatTable(
            ['request', 'status', 'received', 'due', 'days left', 'extended', 'acknowledged', 'rules done', 'why waiting'],
            shown.map((r) => [
              r.id,
              r.status,
              r.receivedAt,
              r.dueAt,
              r.status === 'completed' ? '' : r.daysLeft < 0 ? `${-r.daysLeft} overdue` : r.daysLeft,
              r.extended ? 'yes' : '',
              r.acknowledgeDueAt === null ? '' : (r.acknowledgedAt ?? `${r.acknowledgeOverdue ? 'OVERDUE, was ' : ''}due ${r.acknowledgeDueAt}`),
              `${r.rulesDone}/${r.rules}`,
              r.waitingReason ?? '',
            ]),
          ),
        );
      });
    });

  requests
    .command('extend')
    .argument('<request>', 'the request id')
    .description('extend a request\'s deadline by requests.extension; once only, audited')
    .option(...CONFIG_OPTION)
    .requiredOption('--reason <text>', 'why it needs more time (recorded and audited)')
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .option('--json', 'print the request as JSON')
    .action(async (id: string, _options: ChangeOptions, command: Command) => {
      // The parent command takes --config too: read it from wherever it was given.
      const options = command.optsWithGlobals<ChangeOptions>();
      await withStateOnly(readConfig(options), async (runtime) => {
        const request = await extendRequestDeadline(runtime, id, options.reason ?? '', adminActor(options.actor));
        if (options.json) console.log(JSON.stringify(await requestJson(runtime, request, new Date())));
        else console.log(`request ${id} extended: due ${request.dueAt.toISOString()} (was ${request.originalDueAt.toISOString()})`);
      });
    });

  requests
    .command('acknowledge')
    .argument('<request>', 'the request id')
    .description('record that the person was told their request was received (the acknowledgement deadline)')
    .option(...CONFIG_OPTION)
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .action(async (id: string, _options: ChangeOptions, command: Command) => {
      const options = command.optsWithGlobals<ChangeOptions>();
      await withStateOnly(readConfig(options), async (runtime) => {
        const { state } = runtime;
        const done = await withTransaction(state.db, async (tx) => {
          const request = await acknowledgeRequest(tx, state, id);
          if (!request) return null;
          await appendAudit(tx, state, { event: 'request-acknowledged', subject: request.subjectDigest, requestId: id, ruleId: null, rows: 0, actor: adminActor(options.actor) });
          return request;
        });
        if (!done) throw new UserError(`no request ${JSON.stringify(id)} waiting for an acknowledgement (unknown, or already acknowledged)`);
        console.log(`request ${id} acknowledged at ${done.acknowledgedAt!.toISOString()}`);
      });
    });

  requests
    .command('expire')
    .description('delete the records of completed requests older than requests.keep (the worker does this too); the ledger keeps digests')
    .option(...CONFIG_OPTION)
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .action(async (_options: ChangeOptions, command: Command) => {
      const options = command.optsWithGlobals<ChangeOptions>();
      await withStateOnly(readConfig(options), async (runtime) => {
        const removed = await expireRequests(runtime, adminActor(options.actor));
        console.log(removed.length === 0 ? 'no request record has reached requests.keep' : `removed ${removed.length} request record(s): ${removed.join(', ')}`);
      });
    });
}

async function requestJson(runtime: Runtime, r: RequestRecord, now: Date) {
  const lines = await readRequestRules(runtime.state.db.pool, runtime.state, r.id);
  return {
    id: r.id,
    subject: r.subjectDigest,
    status: r.status,
    receivedAt: r.receivedAt.toISOString(),
    dueAt: r.dueAt.toISOString(),
    originalDueAt: r.originalDueAt.toISOString(),
    daysLeft: daysLeft(r.dueAt, now, runtime.config.timezone),
    overdue: r.status !== 'completed' && r.dueAt.getTime() < now.getTime(),
    acknowledgeOverdue: r.status !== 'completed' && r.acknowledgedAt === null && r.acknowledgeDueAt !== null && r.acknowledgeDueAt.getTime() < now.getTime(),
    extended: r.extendedAt !== null,
    extensionReason: r.extensionReason,
    acknowledgeDueAt: r.acknowledgeDueAt?.toISOString() ?? null,
    acknowledgedAt: r.acknowledgedAt?.toISOString() ?? null,
    waitingReason: r.waitingReason,
    rules: lines.length,
    rulesDone: lines.filter((l) => l.status === 'done').length,
    completedAt: r.completedAt?.toISOString() ?? null,
  };
}
