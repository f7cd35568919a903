import type { Command } from 'commander';
import { startWorker } from '../queue/start-worker.js';
import { openQueue } from '../queue/sweep-queue.js';
import { syncSchedulers } from '../queue/sync-schedulers.js';
import { reconcileSweeps } from '../queue/reconcile-sweeps.js';
import { enqueueOpenRequests } from '../queue/enqueue-requests.js';
import { expireRequests } from '../executor/expire-requests.js';
import { enqueueDueDrains } from '../queue/enqueue-drains.js';
import { seedNextExpiries } from '../queue/next-expiry-jobs.js';
import { openRuntime } from '../runtime/runtime.js';
import { connectForWork } from './connect-for-work.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { redactText } from '../redact.js';
import { UserError } from '../errors.js';
import type { BatchOutcome } from '../executor/execute-batch.js';
import type { SweepJobResult } from '../queue/job-data.js';
import { JOB_BATCH, JOB_SWEEP } from '../queue/queue-names.js';
import { createWorkerLog, logSettings } from '../metrics/worker-log.js';
import { httpSettings } from '../metrics/http-settings.js';
import { startObservability } from '../metrics/worker-observability.js';

/** How often a worker re-queues unfinished batches that Redis may have lost. */
const RECONCILE_EVERY_MS = 30_000;

interface WorkerOptions extends ConfigOption {
  concurrency?: string;
}

/** `retention worker`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineWorker(worker: Command): void {
  worker
    .option(...CONFIG_OPTION)
    .option('--concurrency <n>', 'batches at once in this process (default: worker.concurrency in the config, 2)')
    .action(async (options: WorkerOptions) => {
      // Checked before anything is opened: a bad value is a usage error, not a crash.
      const concurrencyOption = options.concurrency === undefined ? undefined : parseConcurrency(options.concurrency);
      // So is the log's level and format (RETENTION_LOG_LEVEL, RETENTION_LOG_FORMAT).
      const settings = logSettings(process.env, process.stdout.isTTY === true);
      const log = await createWorkerLog(settings);
      for (const warning of settings.warnings ?? []) log.warn(warning);
      const config = readConfig(options);
      const http = httpSettings(config, process.env);
      const runtime = await openRuntime(config);
      // Metrics, /healthz and /readyz, and the sweep ends logged as they are recorded
      // (src/metrics/), never-store incidents among them, each once, however the sweep
      // ended: served from the start, so a port in use stops it before anything runs.
      const observed = await startObservability(runtime, log, http).catch(async (error) => {
        await runtime.close();
        throw error;
      });
      // From here on the HTTP port is bound: a start that fails must close it (and all else
      // opened) and exit, never linger with /healthz answering 200.
      let connection: Awaited<ReturnType<typeof connectForWork>> | undefined;
      let queue: ReturnType<typeof openQueue> | undefined;
      let worker: Awaited<ReturnType<typeof startWorker>> | undefined;
      let reconcileTimer: NodeJS.Timeout | undefined;
      // Used by a failed start and by shutdown alike. /readyz says not ready first: a load
      // balancer stops sending work while the batches in flight finish (close() waits for
      // them; each batch either commits whole or rolls back). Each step runs even when one
      // before it failed, so a failed start still exits.
      const closeAll = async () => {
        clearInterval(reconcileTimer);
        observed.stopping();
        const steps = [() => worker?.close(), () => observed.close(), () => queue?.close(), () => connection?.disconnect(), () => runtime.close()];
        for (const step of steps) {
          await Promise.resolve()
            .then(step)
            .catch((error: unknown) => log.warn({ err: redactText((error as Error)?.message ?? String(error)) }, 'could not close cleanly'));
        }
      };
      try {
        // Refuse to start on a config that fails `check`: a worker must never sweep by a
        // rule whose table or columns are not what the rule says.
        connection = await connectForWork(runtime, config.rules);
        connection.on('error', (error) => log.warn({ err: redactText(error.message) }, 'redis connection error; reconnecting'));
        const sweepQueue = (queue = openQueue(connection, config.queuePrefix));
        const schedulers = await syncSchedulers(sweepQueue, config);
        // Redis may restart and lose its keys (it keeps none on disk in many setups): put the
        // schedulers and the unfinished batches back whenever the connection is ready again,
        // and periodically, since a restart can also go unnoticed between two commands.
        const restore = (why: string) => {
          syncSchedulers(sweepQueue, config)
            .then(() => reconcileSweeps(runtime, sweepQueue))
            // The sweeps it ended were logged (and counted), with any incident, where they were
            // recorded (src/metrics/sweep-alerts.ts).
            .then(({ resumed }) => {
              if (resumed > 0) log.info({ why, sweeps: resumed }, 're-queued unfinished batches');
            })
            // Objects of deleted rows still waiting in a cascade outbox (their drain job lost): drained.
            .then(() => enqueueDueDrains(runtime, sweepQueue))
            // Erasure requests not complete (waiting for a hold's release, a store): another pass.
            .then(() => enqueueOpenRequests(runtime, sweepQueue))
            // Records of completed requests past requests.keep: removed (the ledger keeps digests).
            .then(() => expireRequests(runtime, 'worker'))
            .then((expired) => {
              if (expired.length > 0) log.info({ requests: expired.length }, 'request records past requests.keep removed');
            })
            .catch((error) => log.error({ why, err: redactText((error as Error).message) }, 'could not restore schedulers and batches'));
          // Each rule's next expiry, queued as one delayed sweep (src/queue/next-expiry-jobs.ts):
          // at the start and when Redis comes back (its pending jobs may be gone), never
          // periodically, so that with nothing due the tables are not read in between.
          if (why !== 'periodic') {
            seedNextExpiries(runtime, sweepQueue)
              .then((offers) => log.info({ why, nextExpiry: Object.fromEntries(offers) }, 'next expiries queued'))
              .catch((error) => log.error({ why, err: redactText((error as Error).message) }, 'could not queue next expiries'));
          }
        };
        connection.on('ready', () => restore('redis reconnected'));
        reconcileTimer = setInterval(() => restore('periodic'), RECONCILE_EVERY_MS);
        restore('startup');
        const concurrency = concurrencyOption ?? config.worker.concurrency;
        worker = await startWorker(runtime, { connection, prefix: config.queuePrefix, concurrency, queue, nextExpiry: true });
        observed.connected(connection, queue);
        // What an operator must see is logged at warn or error, with the rule and the reason:
        // a sweep that touched nothing (blocked, or not started: its rule is on legal hold),
        // that was ended (superseded, failed), or a job that was refused. A never-store rule's
        // sweep that found anything is an incident: error, with the rule, target and count,
        // logged with its end (src/metrics/sweep-alerts.ts), never from a job's result.
        worker.on('completed', (job, result) => {
          if (job.name === JOB_SWEEP) {
            const started = result as SweepJobResult;
            // Sweeps it superseded, and its own end when blocked, were logged as they were recorded.
            if (started.blocked) return;
            if (started.held) {
              log.warn({ rule: started.ruleId, hold: started.held.holdId, reason: started.held.reason, until: started.held.until }, `rule is on legal ${started.held.hold}: not swept`);
              return;
            }
          } else if (job.name === JOB_BATCH) {
            const outcome = result as BatchOutcome;
            if (outcome.ended) {
              // The end was logged at warn or error where it was recorded; this is its echo.
              log.info({ rule: outcome.ended.ruleId, id: job.id, status: outcome.ended.status, reason: outcome.ended.reason }, `batch did nothing: its sweep was ${outcome.ended.status}`);
              return;
            }
          }
          log.info({ job: job.name, id: job.id, result }, 'job done');
        });
        // Counted by error kind, and logged once: error when nothing else will report it.
        worker.on('failed', (job, error) => observed.jobFailed(job, error));
        log.info({ config: config.file, rules: config.rules.length, schedulers: schedulers.active, removedSchedulers: schedulers.removed, concurrency }, 'worker started');
      } catch (error) {
        await closeAll();
        throw error;
      }

      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info({ signal }, 'shutting down: finishing batches in flight');
          resolve();
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
      await closeAll();
      log.info('worker stopped');
    });
}

/** Most batches one process may run at once: each holds a database connection. */
const MAX_CONCURRENCY = 1_000;

/** `--concurrency N`: a whole number from 1 up, or a usage error naming the option. */
export function parseConcurrency(text: string): number {
  const n = /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CONCURRENCY) {
    throw new UserError(`--concurrency: ${JSON.stringify(text)} is not a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  return n;
}
