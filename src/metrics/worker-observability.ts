import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { QueueConnection } from '../queue/redis-connection.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { describeOrigin } from '../policy/config.js';
import { redactText } from '../redact.js';
import { stateDb, type StateDb } from '../state/state-db.js';
import { createDatabase } from '../stores/postgres/connect.js';
import type { Runtime } from '../runtime/runtime.js';
import type { HttpSettings } from './http-settings.js';
import { jobFailure, logJobFailure } from './job-failures.js';
import { queueDepth } from './queue-depth.js';
import { checkReadiness, type ReadinessTargets } from './readiness.js';
import { requestCounts } from './request-counts.js';
import { REQUEST_ALERTS_EVERY_MS, RequestAlerts } from './request-alerts.js';
import { RuleLags } from './rule-lags.js';
import { logSweepEnds } from './sweep-alerts.js';
import { serveWorkerHttp, type WorkerHttp } from './worker-http.js';
import { WorkerMetrics } from './worker-metrics.js';

/** Connections of the pool scrapes and /readyz read the state database through. */
export const OBSERVER_POOL_SIZE = 2;

/** What `retention worker` wires in: its metrics, endpoints and alerts, started and stopped with it. */
export interface WorkerObservability {
  metrics: WorkerMetrics;
  /** Once connected: the gauges read the queue, the stores and the state database; readiness is checked; erasure requests are watched. */
  connected(connection: QueueConnection, queue: SweepQueue): void;
  /** The worker's `failed` event: counted by error kind and logged once, at the level it deserves. */
  jobFailed(job: Job | undefined, error: Error): void;
  /** Shutting down: /readyz answers 503 (`worker: stopping`) from now on, while batches in flight finish. */
  stopping(): void;
  close(): Promise<void>;
}

/**
 * Counts and logs the sweep ends and batches the executor reports (runtime.events), and
 * binds `/metrics`, `/healthz` and `/readyz` when `http` says where (before the worker
 * connects: a port in use stops the start, and a service manager sees the process up and
 * not ready while it connects). Throws the UserError of a port that cannot be bound.
 */
export async function startObservability(runtime: Runtime, log: Logger, http: HttpSettings | null): Promise<WorkerObservability> {
  const { config } = runtime;
  const metrics = new WorkerMetrics(config.rules);
  const stops = [metrics.observe(runtime.events), logSweepEnds(log, runtime.events)];
  let readiness: ReadinessTargets | null = null;
  let stopping = false;
  // Scrapes and /readyz read the state database through a pool of their own, so a slow
  // or piled-up scrape never takes a connection a batch waits for (and a batch storm
  // never makes /readyz time out). The stores' probes still use the stores' pools.
  let observer: StateDb | null = null;
  let server: WorkerHttp | null = null;
  let requestTimer: NodeJS.Timeout | undefined;
  const stop = async () => {
    clearInterval(requestTimer);
    readiness = null;
    await server?.close();
    for (const s of stops) s();
    await observer?.db.pool.end().catch(() => undefined);
    observer = null;
  };
  if (http) {
    server = await serveWorkerHttp(http, {
      metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.text() }),
      readiness: async () => (stopping ? { ready: false, notReady: { worker: 'stopping: finishing batches in flight' } } : checkReadiness(readiness)),
    }).catch(async (error) => {
      await stop();
      throw error;
    });
    const where = { host: server.host, port: server.port, paths: ['/metrics', '/healthz', '/readyz'] };
    if (http.loopback) log.info(where, 'serving metrics and health');
    else log.warn(where, `serving metrics and health on ${http.host}, reachable from other hosts (${http.origin})`);
  }
  return {
    metrics,
    connected(connection, queue) {
      const dueWithin = config.worker.alerts.requestsDueWithinDays;
      const origin = describeOrigin(config, 'state');
      const state = (observer = stateDb(createDatabase(config.state, { origin, max: OBSERVER_POOL_SIZE, applicationName: 'retention-observer' }), config.stateSchema, runtime.state.auditKey));
      metrics.attach({ queueDepth: queueDepth(queue), ruleLags: new RuleLags(runtime, { state }), requests: requestCounts(runtime, dueWithin, state) });
      readiness = { redis: connection, state, queue, config };
      // Erasure requests due soon or overdue: a warning per request per day (src/metrics/request-alerts.ts).
      const alerts = new RequestAlerts(runtime, queue, log, dueWithin);
      const check = () => void alerts.check().catch((error: Error) => log.error({ err: redactText(error.message) }, 'could not check erasure request deadlines'));
      requestTimer = setInterval(check, REQUEST_ALERTS_EVERY_MS);
      check();
    },
    jobFailed(job, error) {
      if (!job) return;
      const failure = jobFailure(job, error);
      metrics.countFailure(failure.job, failure.kind);
      logJobFailure(log, failure);
    },
    stopping() {
      stopping = true;
    },
    close: stop,
  };
}
