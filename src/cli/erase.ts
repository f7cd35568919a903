import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { openRequest } from '../executor/open-request.js';
import { runRequestPass } from '../queue/run-request.js';
import { enqueueErase, openQueue } from '../queue/sweep-queue.js';
import { buildReceipt } from '../people/receipt.js';
import { openRuntime } from '../runtime/runtime.js';
import { connectForWork } from './connect-for-work.js';
import { onInterrupt } from './interrupt.js';
import { adminActor, CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { parseInstant } from './parse-instant.js';
import { printReceipt } from './receipt.js';

interface EraseOptions extends ConfigOption {
  subject?: string;
  received?: string;
  reason?: string;
  json?: boolean;
  wait?: boolean;
  actor?: string;
}

/** Exit code when the request was opened but could not finish yet (a hold, a store down). */
export const EXIT_WAITING = 4;

/** `retention erase`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineErase(erase: Command): void {
  erase
    .option(...CONFIG_OPTION)
    .requiredOption('--subject <id>', 'the person\'s id exactly as the stores hold it (never recorded in clear)')
    .option('--received <iso>', 'when the request was received (the deadline counts from it; default now)')
    .option('--reason <text>', 'kept with the request record (which expires), not in the audit log')
    .option('--json', 'print JSON: the request\'s receipt')
    .option('--no-wait', 'only open and queue it; a running worker carries it out')
    .option('--actor <name>', 'who to record (default: admin:<OS user>)')
    .action(async (options: EraseOptions) => {
      const config = readConfig(options);
      // A date alone is the start of that day where the deadlines are counted.
      const receivedAt = options.received === undefined ? undefined : parseInstant(options.received, '--received', config.timezone);
      const runtime = await openRuntime(config);
      let connection: Awaited<ReturnType<typeof connectForWork>> | undefined;
      const interrupt = onInterrupt();
      try {
        connection = await connectForWork(runtime, config.rules.filter((r) => r.subject !== null));
        const actor = adminActor(options.actor);
        const request = await openRequest(runtime, {
          subject: options.subject!,
          ...(receivedAt ? { receivedAt } : {}),
          ...(options.reason ? { reason: options.reason } : {}),
          actor,
        });
        if (options.wait === false) {
          const queue = openQueue(connection, config.queuePrefix);
          await enqueueErase(queue, request.id, `erase-${request.id}-opened`);
          await queue.close();
          if (options.json) console.log(JSON.stringify(await buildReceipt(runtime.state, request.id)));
          else console.log(`request ${request.id} opened (due ${request.dueAt.toISOString()}) and queued for the workers`);
          return;
        }
        const { request: after, failed } = await runRequestPass(runtime, request.id, { connection, concurrency: config.worker.concurrency, signal: interrupt.signal });
        const receipt = (await buildReceipt(runtime.state, request.id))!;
        if (options.json) console.log(JSON.stringify(receipt));
        else printReceipt(receipt);
        if (failed) throw new UserError(`request ${request.id} is open but its erase job failed: ${failed}; a worker retries it`, { exitCode: 1 });
        // Thrown, not set on process.exitCode: the bin sets the exit code from what main returns.
        if (after.status !== 'completed') {
          throw new UserError(`request ${request.id} is ${after.status}${after.waitingReason ? ` (${after.waitingReason})` : ''}; a running worker resumes it`, { exitCode: EXIT_WAITING });
        }
      } finally {
        interrupt.dispose();
        connection?.disconnect();
        await runtime.close();
      }
    });
}
