import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { parsePrometheusText, sampleValue, samplesOf } from '../helpers/prometheus-text.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { sparePort } from '../faults/helpers/spare-port.js';
import { WorkerMetrics } from '../../src/metrics/worker-metrics.js';
import { RuleLags } from '../../src/metrics/rule-lags.js';
import { requestCounts } from '../../src/metrics/request-counts.js';
import { RequestAlerts } from '../../src/metrics/request-alerts.js';
import { queueDepth } from '../../src/metrics/queue-depth.js';
import { checkReadiness } from '../../src/metrics/readiness.js';
import { serveWorkerHttp } from '../../src/metrics/worker-http.js';
import { createWorkerLog } from '../../src/metrics/worker-log.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { createRedis } from '../../src/queue/redis-connection.js';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import type { Config } from '../../src/policy/config.js';

/**
 * The worker's metrics module against the real services, in-process: counters from what
 * the executor records, the lag probe (no sample for a store that cannot tell, bounded by
 * a timeout and never piled up), the erasure request gauges and their daily warning, and
 * readiness against servers that are not there.
 */

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
const cleanups: (() => Promise<unknown> | void)[] = [];
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  dir.remove();
  await env.cleanup();
});

async function scrape(metrics: WorkerMetrics) {
  return parsePrometheusText(await metrics.text());
}

/** A pino logger writing JSON lines into `lines`. */
async function capturedLog(lines: Record<string, unknown>[]) {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return createWorkerLog({ level: 'info', format: 'json' }, destination);
}

async function sweep(runtime: Runtime, config: Config, dryRun = false) {
  const connection = env.redis();
  return runSweeps(runtime, config.rules, { connection, dryRun, actor: 'test', concurrency: 2 });
}

describe('worker metrics', () => {
  it('counts the rows each real batch changed, its duration and the sweep end; a dry run adds nothing', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 120)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100, schedule: 'manual' }]);
    const runtime = await env.runtime(config);
    const metrics = new WorkerMetrics(config.rules, { processMetrics: false });
    cleanups.push(metrics.observe(runtime.events));

    await sweep(runtime, config, true);
    let samples = await scrape(metrics);
    expect(sampleValue(samples, 'retention_rows_changed_total', { rule: 'logs', store: 'app', action: 'delete' })).toBe(0);
    expect(sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'logs', status: 'done' })).toBe(0);
    expect(sampleValue(samples, 'retention_batch_duration_seconds_count', { rule: 'logs' })).toBeUndefined();

    const [result] = (await sweep(runtime, config)).swept;
    samples = await scrape(metrics);
    expect(result!.sweep.rowsAffected).toBe(120);
    expect(sampleValue(samples, 'retention_rows_changed_total', { rule: 'logs', store: 'app', action: 'delete' })).toBe(120);
    expect(sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'logs', status: 'done' })).toBe(1);
    expect(sampleValue(samples, 'retention_batch_duration_seconds_count', { rule: 'logs' })).toBe(result!.sweep.batchesTotal);
    expect(sampleValue(samples, 'retention_batch_duration_seconds_sum', { rule: 'logs' })).toBeGreaterThan(0);
    // Gauges read nothing before the worker attaches their sources: no sample, not 0.
    expect(samplesOf(samples, 'retention_lag_seconds')).toEqual([]);
    expect(samplesOf(samples, 'retention_queue_jobs')).toEqual([]);
  });

  it('counts a never-store rule sweep that found items as an incident, with how many', async () => {
    const table = `${env.schema}.face_templates`;
    await env.sql(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now())`);
    await env.sql(`INSERT INTO ${table} (created_at) SELECT now() - interval '1 minute' FROM generate_series(1, 4)`);
    const config = env.config([{ id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', schedule: 'manual' }]);
    const runtime = await env.runtime(config);
    const metrics = new WorkerMetrics(config.rules, { processMetrics: false });
    cleanups.push(metrics.observe(runtime.events));
    expect(sampleValue(await scrape(metrics), 'retention_never_store_incidents_total', { rule: 'face-data' })).toBe(0);
    await sweep(runtime, config);
    // Nothing there any more: a second sweep is no incident.
    await sweep(runtime, config);
    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'retention_never_store_incidents_total', { rule: 'face-data' })).toBe(1);
    expect(sampleValue(samples, 'retention_never_store_items_found_total', { rule: 'face-data' })).toBe(4);
    expect(sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'face-data', status: 'done' })).toBe(2);
  });

  it('gives no lag sample for a store that cannot tell, nor for one that does not answer in time, and never probes that one twice at once', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 5)`);
    // Indexed: the lag probe gives no sample for an anchor without an index (it would scan).
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`CREATE TABLE ${env.schema}.locked (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.locked (at)`);
    const logs = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'manual' };
    const sessions = { id: 'sessions', store: 'cache', keys: `sess-${env.id}:*`, anchor: 'created_at', anchorUnit: 'ms', retain: 'P30D', action: 'delete', schedule: 'manual' };
    // Another store (its own pool) whose table an application holds locked: its probe waits.
    const waiting = { ...logs, id: 'waiting', table: 'locked', store: 'busy' };
    const stores = { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: REDIS_URL }, busy: { kind: 'postgres', url: DATABASE_URL } };
    const config = env.config([logs, sessions, waiting], { stores });
    const runtime = await env.runtime(config);
    const metrics = new WorkerMetrics(config.rules, { processMetrics: false });
    const queue = openQueue(env.redis(), env.prefix);
    cleanups.push(() => queue.close());
    metrics.attach({ queueDepth: queueDepth(queue), ruleLags: new RuleLags(runtime, { ttlMs: 60_000, timeoutMs: 300 }), requests: requestCounts(runtime, 7) });
    const holder = await env.pool.connect();
    cleanups.push(async () => {
      await holder.query('ROLLBACK').catch(() => undefined);
      holder.release();
    });
    await holder.query(`BEGIN; LOCK TABLE ${env.schema}.locked IN ACCESS EXCLUSIVE MODE`);

    const started = Date.now();
    const samples = await scrape(metrics);
    // Well within the probe's own lock_timeout (2 s): the scrape did not wait for it.
    expect(Date.now() - started).toBeLessThan(1_500);
    const lags = samplesOf(samples, 'retention_lag_seconds');
    expect(lags.map((s) => s.labels.rule)).toEqual(['logs']);
    expect(lags[0]!.value).toBeGreaterThan(30 * 86_400);
    expect(sampleValue(samples, 'retention_queue_jobs', { state: 'waiting' })).toBe(0);
    // Scrapes while that probe still waits join it: one query waits on the lock, not one per scrape.
    await scrape(metrics);
    await scrape(metrics);
    const waiters = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1`, [`%${env.schema}%locked%`]);
    expect(Number(waiters[0]!.n)).toBe(1);
  });

  it('gauges open erasure requests, those due within N days and the overdue ones, and warns about each once a day', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), user_id text)`);
    const rules = [{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id', schedule: 'manual' }];
    const requests = { due: 'P10D', acknowledge: 'P3D' };
    const file = dir.write('retention.yaml', env.configYaml(rules, { requests }));
    const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString();
    const opened: Record<string, string> = {};
    // Due 20 days ago; due in 5 days (receipt acknowledgement due 2 days ago); due in 10 days.
    for (const [name, received] of [['overdue', daysAgo(30)], ['soon', daysAgo(5)], ['later', daysAgo(0)]] as const) {
      const outcome = await runMain(['erase', '--subject', `u-${name}`, '--received', received, '--no-wait', '--json', '--config', file]);
      expect(outcome.stderr).toBe('');
      opened[name] = (JSON.parse(outcome.stdout) as { requestId: string }).requestId;
    }
    const config = env.config(rules, { requests });
    const runtime = await env.runtime(config);
    const metrics = new WorkerMetrics(config.rules, { processMetrics: false });
    const queue = openQueue(env.redis(), env.prefix);
    cleanups.push(() => queue.close());
    metrics.attach({ queueDepth: queueDepth(queue), ruleLags: new RuleLags(runtime), requests: requestCounts(runtime, config.worker.alerts.requestsDueWithinDays) });
    const samples = await scrape(metrics);
    expect(sampleValue(samples, 'retention_erasure_requests_open')).toBe(3);
    expect(sampleValue(samples, 'retention_erasure_requests_due_soon')).toBe(1);
    expect(sampleValue(samples, 'retention_erasure_requests_overdue')).toBe(1);
    expect(sampleValue(samples, 'retention_erasure_requests_acknowledgement_overdue')).toBe(2);
    // The three erase jobs wait in the queue (no worker ran them).
    expect(sampleValue(samples, 'retention_queue_jobs', { state: 'waiting' })).toBe(3);

    const lines: Record<string, unknown>[] = [];
    const log = await capturedLog(lines);
    expect(await new RequestAlerts(runtime, queue, log, 7).check()).toBe(2);
    expect(lines).toEqual([
      expect.objectContaining({ level: 40, msg: 'erasure request overdue', request: opened.overdue, acknowledgementOverdue: true }),
      expect.objectContaining({ level: 40, msg: 'erasure request due within 7 days', request: opened.soon, daysLeft: 5, acknowledgementOverdue: true }),
    ]);
    // Again the same day, from this worker or another: nothing more.
    expect(await new RequestAlerts(runtime, queue, log, 7).check()).toBe(0);
    expect(lines).toHaveLength(2);
  });

  it('reports not ready, naming each dependency, for a state database and a Redis on closed ports', async () => {
    const [statePort, redisPort] = [await sparePort(), await sparePort()];
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' }], {
      state: `postgres://postgres@127.0.0.1:${statePort}/test`,
    });
    const runtime = await openRuntime(config, { RETENTION_AUDIT_KEY: process.env.RETENTION_AUDIT_KEY });
    cleanups.push(() => runtime.close());
    const redis = createRedis(`redis://127.0.0.1:${redisPort}`);
    redis.on('error', () => undefined);
    cleanups.push(() => redis.disconnect());
    const queue = openQueue(redis, env.prefix);
    cleanups.push(() => queue.close().catch(() => undefined));
    const server = await serveWorkerHttp(
      { host: '127.0.0.1', port: 0, origin: 'test', loopback: true },
      { metrics: async () => ({ contentType: 'text/plain', text: '' }), readiness: () => checkReadiness({ redis, state: runtime.state, queue, config }, 500) },
    );
    cleanups.push(() => server.close());
    const response = await fetch(`http://127.0.0.1:${server.port}/readyz`);
    expect(response.status).toBe(503);
    const body = (await response.json()) as { ready: boolean; notReady: Record<string, string> };
    expect(body.ready).toBe(false);
    expect(Object.keys(body.notReady).sort()).toEqual(['redis', 'schedulers', 'state']);
    expect(body.notReady.state).toContain('ECONNREFUSED');
    expect(body.notReady.redis).toBe('no answer within 500 ms');
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200);
    // Before the worker has connected, it is not ready either.
    expect(await checkReadiness(null)).toEqual({ ready: false, notReady: { worker: 'starting: not connected yet' } });
  });
});
