import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { tempDir } from '../cli/cli-harness.js';
import { RetentionProcess } from '../faults/helpers/retention-process.js';
import { waitFor } from '../faults/helpers/wait-for.js';
import { ThrowawayRedis } from '../faults/helpers/throwaway-redis.js';
import { parsePrometheusText, sampleValue, type Sample } from '../helpers/prometheus-text.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { openQueue } from '../../src/queue/sweep-queue.js';

/**
 * `retention worker` as Prometheus and a service manager see it: /metrics scraped over HTTP
 * from a real worker process after real sweeps, /healthz and /readyz as its dependencies
 * go away, and the warnings an operator must see, each logged once and counted.
 */

const START_MS = 30_000;
const DAY_S = 86_400;
/** pino's level numbers. */
const INFO = 30;
const WARN = 40;
const ERROR = 50;

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let processes: RetentionProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  await Promise.all(processes.map((p) => p.kill('SIGKILL')));
  processes = [];
  for (const cleanup of cleanups.splice(0)) await cleanup();
  dir.remove();
  await env.cleanup();
});

function startWorker(name: string, configFile: string, extraEnv: NodeJS.ProcessEnv = {}): RetentionProcess {
  const worker = RetentionProcess.start(['worker', '--config', configFile], { name, logDir: dir.dir, env: { RETENTION_HMAC_KEY: TEST_HMAC_KEY, ...extraEnv } });
  processes.push(worker);
  return worker;
}

/** The port the worker logged it serves on (tests run it with RETENTION_HTTP_PORT=0: any free port). */
async function servedPort(worker: RetentionProcess): Promise<number> {
  await worker.waitForLog('serving metrics and health', START_MS);
  const line = worker.logEntries().find((e) => e.msg === 'serving metrics and health')!;
  expect(line).toMatchObject({ host: '127.0.0.1', level: INFO });
  return line.port as number;
}

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.text(), type: response.headers.get('content-type') };
}

async function scrape(port: number): Promise<Sample[]> {
  const { status, body, type } = await get(port, '/metrics');
  expect(status).toBe(200);
  expect(type).toContain('text/plain');
  return parsePrometheusText(body);
}

async function untilReady(port: number): Promise<void> {
  await waitFor(async () => (await get(port, '/readyz')).status === 200, { what: '/readyz to answer 200', timeoutMs: START_MS });
}

/** The worker's log entries whose message is `msg`. */
const entries = (worker: RetentionProcess, msg: string) => worker.logEntries().filter((e) => e.msg === msg);

describe('retention worker metrics and health', () => {
  it('scrapes the lag of an unswept rule, then after its sweep the exact rows removed and no lag', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    // 250 rows 400 days old under a one-year rule: expired about 35 days ago. 50 young ones stay.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 250)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '10 days' FROM generate_series(1, 50)`);
    // Indexed: without an index on the anchor the lag gauge gives no sample (the probe would scan).
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    const rule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 };

    // Swept only on `retention run`: nothing sweeps it while this worker runs, so it is late.
    const manual = startWorker('worker-manual', dir.write('manual.yaml', env.configYaml([{ ...rule, schedule: 'manual' }])));
    const manualPort = await servedPort(manual);
    expect(await get(manualPort, '/healthz')).toMatchObject({ status: 200 });
    await untilReady(manualPort);
    const before = await scrape(manualPort);
    const lagBefore = sampleValue(before, 'retention_lag_seconds', { rule: 'logs' });
    // now - (anchor + 1 year): 400 days minus a year of 365 or 366 days, give or take the test's own seconds.
    expect(lagBefore).toBeGreaterThan(33 * DAY_S);
    expect(lagBefore).toBeLessThan(36 * DAY_S);
    expect(sampleValue(before, 'retention_rows_changed_total', { rule: 'logs', store: 'app', action: 'delete' })).toBe(0);
    expect(sampleValue(before, 'retention_sweeps_ended_total', { rule: 'logs', status: 'done' })).toBe(0);
    expect((await manual.kill('SIGTERM')).code).toBe(0);

    // The schedule switched on: the worker sweeps the waiting rows as it starts.
    const scheduled = startWorker('worker-scheduled', dir.write('scheduled.yaml', env.configYaml([{ ...rule, schedule: 'PT1H' }])));
    const port = await servedPort(scheduled);
    await waitFor(async () => (await env.sql(`SELECT 1 FROM ${env.stateSchema}.sweeps WHERE status = 'done' AND rows_affected = 250`)).length === 1, {
      what: 'the sweep to finish',
      timeoutMs: START_MS,
    });
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n)).toBe(50);
    // Every sweep the worker ended (a second trigger may find nothing left) is counted, as the state database records them.
    const after = await waitFor(
      async () => {
        const samples = await scrape(port);
        const done = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.stateSchema}.sweeps WHERE status = 'done'`))[0]!.n);
        return sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'logs', status: 'done' }) === done ? samples : undefined;
      },
      { what: 'the done sweeps to be counted', timeoutMs: START_MS },
    );
    expect(sampleValue(after, 'retention_rows_changed_total', { rule: 'logs', store: 'app', action: 'delete' })).toBe(250);
    expect(sampleValue(after, 'retention_lag_seconds', { rule: 'logs' })).toBe(0);
    // Every batch (of at most 100 rows) the sweep ran is timed.
    const batches = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.stateSchema}.batches WHERE done`))[0]!.n);
    expect(batches).toBeGreaterThanOrEqual(3);
    expect(sampleValue(after, 'retention_batch_duration_seconds_count', { rule: 'logs' })).toBe(batches);
    expect(sampleValue(after, 'retention_sweeps_blocked_total', { rule: 'logs' })).toBe(0);
    expect(sampleValue(after, 'retention_queue_jobs', { state: 'failed' })).toBe(0);
    expect(sampleValue(after, 'retention_erasure_requests_open')).toBe(0);
    expect(after.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    await waitFor(() => entries(scheduled, 'sweep done').some((e) => e.rule === 'logs' && e.rows === 250 && e.level === INFO), { what: 'the sweep logged as done', timeoutMs: START_MS });
    expect(await get(port, '/readyz')).toMatchObject({ status: 200 });
    expect(await get(port, '/nothing')).toMatchObject({ status: 404 });
    expect((await scheduled.kill('SIGTERM')).code).toBe(0);
  });

  it('logs a scheduled sweep blocked by its limits once at warn, with the rule and the reason, and counts it', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 50)`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1M', limits: { maxRowsPerRun: 10 } }]));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await worker.waitForLog('sweep blocked by its limits; nothing was touched', START_MS);
    const blockedInDb = async () => env.sql<{ id: string }>(`SELECT id FROM ${env.stateSchema}.sweeps WHERE status = 'blocked'`);
    // Each blocked sweep is counted as the state database records it, and logged once.
    const samples = await waitFor(
      async () => {
        const scraped = await scrape(port);
        const n = (await blockedInDb()).length;
        // The log line travels through a pipe: waited for too.
        const logged = entries(worker, 'sweep blocked by its limits; nothing was touched').length;
        return sampleValue(scraped, 'retention_sweeps_blocked_total', { rule: 'logs' }) === n && logged === n ? scraped : undefined;
      },
      { what: 'the blocked sweeps to be counted', timeoutMs: START_MS },
    );
    const blocked = await blockedInDb();
    expect(blocked.length).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'logs', status: 'blocked' })).toBe(blocked.length);
    const lines = entries(worker, 'sweep blocked by its limits; nothing was touched');
    expect(lines.map((l) => l.sweep).sort()).toEqual(blocked.map((b) => b.id).sort());
    for (const line of lines) {
      expect(line).toMatchObject({ level: WARN, rule: 'logs', trigger: 'schedule', reason: expect.stringContaining('maxRowsPerRun 10'), confirmToken: expect.any(String) });
    }
    // Not also reported as an ordinary finished job.
    expect(worker.logEntries().filter((e) => e.msg === 'job done' && JSON.stringify(e).includes('"blocked"'))).toEqual([]);
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(50);
  });

  it('logs a sweep superseded under a changed rule once at warn, its queued batches echoing it at info, and counts it', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 300)`);
    // A sweep planned (its 3 batches queued) under P1Y, then the rule changed before any batch ran.
    const planned = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100, schedule: 'manual' }]);
    const sweep = await plannedSweep(env, planned, await env.runtime(planned));
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P2Y', action: 'delete', batchSize: 100, schedule: 'manual' }]));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await worker.waitForLog('sweep superseded', START_MS);
    // Its three queued batches come to nothing: their echo is info, the end itself one warning.
    expect(sweep.batchesTotal).toBeGreaterThanOrEqual(3);
    const queue = openQueue(env.redis(), env.prefix);
    await waitFor(
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'completed');
        return counts.waiting === 0 && counts.active === 0 && counts.delayed === 0 && counts.completed === sweep.batchesTotal;
      },
      { what: 'the queued batches to run', timeoutMs: START_MS },
    );
    await queue.close();
    expect(entries(worker, 'batch did nothing: its sweep was superseded').every((e) => e.level === INFO)).toBe(true);
    const warnings = worker.logEntries().filter((e) => (e.level as number) >= WARN && JSON.stringify(e).includes('superseded'));
    expect(warnings).toEqual([expect.objectContaining({ msg: 'sweep superseded', level: WARN, rule: 'logs', sweep: sweep.id, reason: expect.stringContaining('changed since the sweep was planned') })]);
    const samples = await scrape(port);
    expect(sampleValue(samples, 'retention_sweeps_ended_total', { rule: 'logs', status: 'superseded' })).toBe(1);
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(300);
  });

  it('logs a sweep superseded by the startup reconciliation (its batch jobs lost) once at warn, and counts it', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 300)`);
    const planned = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100, schedule: 'manual' }]);
    const sweep = await plannedSweep(env, planned, await env.runtime(planned));
    // Redis lost the batch jobs: only the worker's reconciliation at start finds the sweep.
    const queue = openQueue(env.redis(), env.prefix);
    await queue.drain(true);
    await queue.close();
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P2Y', action: 'delete', batchSize: 100, schedule: 'manual' }]));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await worker.waitForLog('sweep superseded', START_MS);
    await worker.waitForLog('worker started', START_MS);
    expect(entries(worker, 'sweep superseded')).toEqual([expect.objectContaining({ level: WARN, rule: 'logs', sweep: sweep.id, reason: expect.stringContaining('changed since the sweep was planned') })]);
    expect(sampleValue(await scrape(port), 'retention_sweeps_ended_total', { rule: 'logs', status: 'superseded' })).toBe(1);
  });

  it('logs a sweep whose batch fails for good once at error, with the rule and the reason, and counts it', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 300)`);
    // `check` cannot see it: every DELETE fails, the same way each time (not worth retrying).
    await env.sql(`CREATE FUNCTION ${env.schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'logs are kept by a trigger'; END $$`);
    await env.sql(`CREATE TRIGGER refuse BEFORE DELETE ON ${env.schema}.logs FOR EACH ROW EXECUTE FUNCTION ${env.schema}.refuse()`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100, schedule: 'PT1H' }]));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await worker.waitForLog('sweep failed', START_MS);
    const failedInDb = async () => env.sql<{ id: string }>(`SELECT id FROM ${env.stateSchema}.sweeps WHERE status = 'failed'`);
    const samples = await waitFor(
      async () => {
        const scraped = await scrape(port);
        const n = (await failedInDb()).length;
        const logged = entries(worker, 'sweep failed').length;
        return sampleValue(scraped, 'retention_sweeps_ended_total', { rule: 'logs', status: 'failed' }) === n && logged === n ? scraped : undefined;
      },
      { what: 'the failed sweeps to be counted', timeoutMs: START_MS },
    );
    const failed = await failedInDb();
    // One error per failed sweep, with the rule and why; the batch jobs' own failures are warnings.
    const errors = worker.logEntries().filter((e) => (e.level as number) >= ERROR);
    expect(errors.map((e) => e.sweep).sort()).toEqual(failed.map((f) => f.id).sort());
    for (const error of errors) expect(error).toMatchObject({ msg: 'sweep failed', rule: 'logs', reason: expect.stringContaining('logs are kept by a trigger') });
    // Logged after the sweep's end (the batch job fails once its sweep is recorded as failed).
    await waitFor(() => entries(worker, 'job failed').length > 0, { what: 'the batch job failure', timeoutMs: START_MS });
    expect(entries(worker, 'job failed').every((e) => e.level === WARN && e.job === 'batch' && e.kind === 'permanent' && e.final === true)).toBe(true);
    expect(sampleValue(samples, 'retention_errors_total', { kind: 'permanent', job: 'batch' })).toBeGreaterThanOrEqual(failed.length);
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(300);
  });

  it('answers /readyz 503 naming the state database once it is unreachable, /healthz still 200', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const proxy = await TcpProxy.start(Number(new URL(DATABASE_URL).port || 5432));
    cleanups.push(() => proxy.cut().catch(() => undefined));
    const state = new URL(DATABASE_URL);
    state.port = String(proxy.port);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }], { state: state.toString() }));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await untilReady(port);
    await proxy.cut();
    const notReady = await waitFor(
      async () => {
        const answer = await get(port, '/readyz');
        return answer.status === 503 ? (JSON.parse(answer.body) as { ready: boolean; notReady: Record<string, string> }) : undefined;
      },
      { what: '/readyz to answer 503', timeoutMs: START_MS },
    );
    expect(notReady.ready).toBe(false);
    expect(Object.keys(notReady.notReady)).toEqual(['state']);
    expect(await get(port, '/healthz')).toMatchObject({ status: 200 });
  });

  it('answers /readyz 503 naming Redis and the schedulers once Redis is down', async () => {
    const redis = await ThrowawayRedis.start();
    cleanups.push(() => redis.stop());
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' }], { redis: redis.url }));
    const worker = startWorker('worker', file);
    const port = await servedPort(worker);
    await untilReady(port);
    await redis.kill();
    const answer = await waitFor(
      async () => {
        const got = await get(port, '/readyz');
        return got.status === 503 ? got : undefined;
      },
      { what: '/readyz to answer 503', timeoutMs: START_MS },
    );
    const body = JSON.parse(answer.body) as { ready: boolean; notReady: Record<string, string> };
    expect(body.ready).toBe(false);
    expect(Object.keys(body.notReady).sort()).toEqual(['redis', 'schedulers']);
    expect(await get(port, '/healthz')).toMatchObject({ status: 200 });
    // A scrape still answers (the queue gauge has no sample rather than hanging).
    const samples = await scrape(port);
    expect(sampleValue(samples, 'retention_queue_jobs', { state: 'waiting' })).toBeUndefined();
  });

  it('warns when it serves beyond loopback, and refuses to start on a port in use', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'manual' }]));
    const open = startWorker('worker-open', file, { RETENTION_HTTP_HOST: '0.0.0.0' });
    await open.waitForLog('serving metrics and health on 0.0.0.0, reachable from other hosts ($RETENTION_HTTP_HOST and $RETENTION_HTTP_PORT)', START_MS);
    const line = entries(open, 'serving metrics and health on 0.0.0.0, reachable from other hosts ($RETENTION_HTTP_HOST and $RETENTION_HTTP_PORT)')[0]!;
    expect(line.level).toBe(WARN);

    // A second worker on the first one's port: exit 2, one line naming the address and the setting.
    const taken = startWorker('worker-taken', file, { RETENTION_HTTP_PORT: String(line.port), RETENTION_HTTP_HOST: '127.0.0.1' });
    const exit = await taken.finish(START_MS);
    expect(exit.code).toBe(2);
    expect(taken.stderr()).toContain(`cannot serve /metrics, /healthz and /readyz on 127.0.0.1:${line.port as number} ($RETENTION_HTTP_HOST and $RETENTION_HTTP_PORT): the port is in use`);
    expect(taken.stderr()).not.toMatch(/\n\s+at /);
    expect(entries(taken, 'worker started')).toEqual([]);
  });
});
