import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { limitLoop, singleDelete, singleUpdate, type BaselineResult } from './bench-baselines.js';
import {
  BENCH_KEY_PREFIX,
  BENCH_QUEUE_PREFIX,
  BENCH_SCHEMA,
  BENCH_STATE_SCHEMA,
  buildSessions,
  buildTemplate,
  deleteMatching,
  expiredCount,
  restoreTable,
} from './bench-data.js';
import { measureImpact } from './bench-impact.js';
import { createPlanTables, timePlanCli, timePlanner, writePlanConfig } from './bench-plan.js';
import { summarize } from './bench-probe.js';
import { rawRedisLoop } from './bench-redis.js';
import { benchLag } from './bench-lag.js';
import { benchPartitions, renderPartitions } from './bench-partitions.js';
import { benchStartup } from './bench-startup.js';
import { benchSteady } from './bench-steady.js';
import { builtCli } from './built-cli.js';
import { machine, roundTrip, writeReport, type Results, type Run } from './bench-report.js';
import {
  BENCH_ENV,
  BENCH_HMAC_KEY,
  batchesAlone,
  DATABASE_URL,
  readTimings,
  REDIS_URL,
  RULE_ANONYMIZE,
  RULE_DELETE,
  RULE_SESSIONS,
  startWorkerProcess,
  sweepInProcess,
  sweepOnWorkers,
  writeBenchConfig,
  type SweepResult,
} from './bench-sweep.js';

/**
 * `npm run bench`: builds the data, runs every contender of issue 4 on this machine in one
 * run, and writes docs/benchmarks.md. Not part of `npm test`.
 *
 * Sections: delete (single DELETE, LIMIT loop, our sweep), workers (1 and 2 worker
 * processes), anonymize, impact (application latency), scale (1M and 4M rows, worker
 * RSS), redis, plan; and issue 8's: steady (a steady-state sweep at 1M, 4M, 16M rows
 * against the design before it), lag (a worker, rows expiring every 100 ms), partitions,
 * startup (the built CLI). For development: `-- --scale 0.05` shrinks every data set and
 * `-- --only delete,redis` runs some sections (the report says so, and has gaps).
 *
 * Everything lives in the schema retention_bench (+ _state), the queue prefix and key
 * prefix retention_bench: dropped at the start and at the end.
 */
const scaleArg = process.argv.indexOf('--scale');
const SCALE = scaleArg === -1 ? 1 : Number(process.argv[scaleArg + 1]);
const ROWS = Math.round(2_000_000 * SCALE);
const SCALE_ROWS = [Math.round(1_000_000 * SCALE), Math.round(4_000_000 * SCALE)] as const;
const REDIS_KEYS = Math.round(1_000_000 * SCALE);
const PLAN_RULES = [100, 300, 1000];
/** Issue 8: the steady-state sweep's table sizes, the lag run's length, the partitioned table. */
const STEADY_ROWS = [1_000_000, 4_000_000, 16_000_000].map((n) => Math.round(n * SCALE));
const LAG_SECONDS = 60;
const PARTITION_ROWS = Math.round(4_000_000 * SCALE);
const onlyArg = process.argv.indexOf('--only');
/** `--only delete,redis`: run some sections (for development; the report then has gaps). */
const ONLY = onlyArg === -1 ? null : new Set(process.argv[onlyArg + 1]!.split(','));
const section = (name: string) => ONLY === null || ONLY.has(name);
/** Rounds of the head-to-head delete comparison; the best of each contender counts. */
const DELETE_ROUNDS = 3;
const REDIS_ROUNDS = 2;

const started = performance.now();
const loadAtStart = loadavg().map((l) => l.toFixed(2)).join(' ');
const log = (message: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4, options: '-c TimeZone=UTC', application_name: 'retention-bench' });
const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
const dir = mkdtempSync(join(tmpdir(), 'retention-bench-'));
const { file: configFile, config } = writeBenchConfig(dir);

const results: Results = {
  command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  scaleFactor: SCALE,
  machine: await machine(pool, redis),
  rows: ROWS,
  batchSize: config.rules.find((r) => r.id === RULE_DELETE)!.batchSize,
  anonymizeBatchSize: config.rules.find((r) => r.id === RULE_ANONYMIZE)!.batchSize,
  concurrency: config.worker.concurrency,
  delete: { single: [], loop: null, sweep: [], workers1: null, workers2: null, alone: [] },
  anonymize: { single: null, sweep: null },
  redis: { keys: REDIS_KEYS, raw: [], sweep: [] },
  scale: [],
  impact: [],
  plan: [],
  scale8: { steady: null, startup: null, lag: null, partitions: null },
  seconds: 0,
};

const fromBaseline = (r: BaselineResult): Run => ({ seconds: r.seconds, rows: r.rows, ...summarize(r.timings) });
const fromSweep = (r: SweepResult): Run => ({ seconds: r.seconds, rows: r.rows, batches: r.batches, ...summarize(r.timings) });

async function cleanState(): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${BENCH_STATE_SCHEMA} CASCADE`);
  await deleteMatching(redis, `${BENCH_QUEUE_PREFIX}:*`);
}

async function restore(template: string): Promise<number> {
  await restoreTable(pool, template);
  return expiredCount(pool);
}

/** Runs a contender against freshly restored data and checks it changed what it should. */
async function contender<T extends { rows: number }>(name: string, template: string, work: () => Promise<T>): Promise<T> {
  const expected = await restore(template);
  log(`${name}: running (${expected} rows to change)`);
  const result = await work();
  if (result.rows !== expected) throw new Error(`${name} changed ${result.rows} rows, expected ${expected}`);
  return result;
}

async function withWorkers<T>(count: number, work: () => Promise<T>): Promise<{ result: T; peakRssMb: number[]; logs: string[] }> {
  const workers = [];
  for (let i = 0; i < count; i++) workers.push(await startWorkerProcess(configFile, join(dir, `worker-${Date.now()}-${i}.log`)));
  try {
    const result = await work();
    const peakRssMb = [];
    for (const worker of workers) peakRssMb.push(await worker.stop());
    return { result, peakRssMb, logs: workers.map((w) => w.logFile) };
  } catch (error) {
    for (const worker of workers) worker.child.kill('SIGKILL');
    throw error;
  }
}

try {
  await pool.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE`);
  await pool.query(`CREATE SCHEMA ${BENCH_SCHEMA}`);
  await cleanState();

  if (['delete', 'workers', 'anonymize', 'impact'].some(section)) {
    log(`building ${ROWS} rows`);
    await buildTemplate(pool, 'template_main', ROWS);
  }

  // PostgreSQL delete, head to head: alternate single statement and sweep, best of each.
  for (let round = 0; round < (section('delete') ? DELETE_ROUNDS : 0); round++) {
    results.delete.single.push(fromBaseline(await contender('single DELETE', 'template_main', () => singleDelete(pool))));
    results.delete.sweep.push(fromSweep(await contender('sweep (retention run)', 'template_main', () => sweepInProcess(config, RULE_DELETE))));
  }
  if (section('delete')) {
    results.delete.loop = fromBaseline(await contender('DELETE ... LIMIT 10000 loop', 'template_main', () => limitLoop(pool)));
    for (const connections of [1, 2]) {
      const alone = await contender(`the sweep's batch statements alone, ${connections} connection(s)`, 'template_main', () => batchesAlone(config, RULE_DELETE, connections));
      results.delete.alone.push({ ...fromSweep(alone), connections });
    }
  }

  for (const count of section('workers') ? ([1, 2] as const) : []) {
    const expected = await restore('template_main');
    log(`sweep on ${count} worker process(es)`);
    const { result, peakRssMb, logs } = await withWorkers(count, () => sweepOnWorkers(config, RULE_DELETE));
    if (result.rows !== expected) throw new Error(`worker sweep changed ${result.rows}, expected ${expected}`);
    const run = { ...result, ...summarize(logs.flatMap(readTimings)), peakRssMb: Math.max(...peakRssMb) };
    if (count === 1) results.delete.workers1 = run;
    else results.delete.workers2 = run;
  }

  // Anonymize: one UPDATE against the sweep.
  if (section('anonymize')) {
    results.anonymize.single = fromBaseline(await contender('single UPDATE', 'template_main', () => singleUpdate(pool, BENCH_HMAC_KEY)));
    results.anonymize.sweep = fromSweep(await contender('anonymize sweep', 'template_main', () => sweepInProcess(config, RULE_ANONYMIZE)));
  }

  // Impact on the application: the same load without and then with a sweep, at the default
  // worker concurrency and at 1.
  for (const concurrency of section('impact') ? [config.worker.concurrency, 1] : []) {
    await restore('template_main');
    log(`impact: application load, without and with a sweep (concurrency ${concurrency})`);
    const sweepConfig = concurrency === config.worker.concurrency ? config : writeBenchConfig(dir, { concurrency }).config;
    results.impact.push(await measureImpact(DATABASE_URL, ROWS, join(dir, `load-${concurrency}.json`), concurrency, () => sweepInProcess(sweepConfig, RULE_DELETE)));
  }

  // Scale: the same sweep on one worker process at 1M and 4M rows (2M is above).
  for (const rows of section('scale') ? SCALE_ROWS : []) {
    log(`building ${rows} rows`);
    await buildTemplate(pool, 'template_scale', rows);
    const expected = await restore('template_scale');
    log(`sweep of ${rows} rows on 1 worker process`);
    const { result, peakRssMb, logs } = await withWorkers(1, () => sweepOnWorkers(config, RULE_DELETE));
    if (result.rows !== expected) throw new Error(`worker sweep changed ${result.rows}, expected ${expected}`);
    results.scale.push({ tableRows: rows, ...result, ...summarize(logs.flatMap(readTimings)), peakRssMb: peakRssMb[0]! });
  }
  await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.template_scale, ${BENCH_SCHEMA}.template_main, ${BENCH_SCHEMA}.logs`);

  // Redis: raw SCAN + HGET + UNLINK loop against the sweep, on identical keyspaces.
  for (let round = 0; round < (section('redis') ? REDIS_ROUNDS : 0); round++) {
    log(`redis: building ${REDIS_KEYS} sessions`);
    let expected = await buildSessions(redis, REDIS_KEYS);
    log('redis: raw loop');
    const raw = await rawRedisLoop(redis, 30);
    if (raw.keys !== expected) throw new Error(`raw loop deleted ${raw.keys}, expected ${expected}`);
    results.redis.raw.push({ seconds: raw.seconds, rows: raw.keys });
    expected = await buildSessions(redis, REDIS_KEYS);
    log('redis: sweep (retention run)');
    const sweep = await sweepInProcess(config, RULE_SESSIONS);
    if (sweep.rows !== expected) throw new Error(`redis sweep deleted ${sweep.rows}, expected ${expected}`);
    results.redis.sweep.push({ seconds: sweep.seconds, rows: sweep.rows, batches: sweep.batches });
  }
  await deleteMatching(redis, `${BENCH_QUEUE_PREFIX}:*`);

  // Planning: `retention plan` over generated rules.
  if (section('plan')) {
    log('planning');
    await createPlanTables(pool);
  }
  const single = section('plan') ? await timePlanCli(writePlanConfig(dir, 1, 'UTC')) : { seconds: NaN };
  for (const count of section('plan') ? PLAN_RULES : []) {
    const utc = writePlanConfig(dir, count, 'UTC');
    const berlin = writePlanConfig(dir, count, 'Europe/Berlin');
    const cli = await timePlanCli(utc);
    if (cli.rules !== count) throw new Error(`plan listed ${cli.rules} rules, expected ${count}`);
    results.plan.push({
      rules: count,
      cliSeconds: cli.seconds,
      cliOneRuleSeconds: single.seconds,
      plannerUtc: timePlanner(utc),
      plannerBerlin: timePlanner(berlin),
      plannerUtcDistinct: timePlanner(writePlanConfig(dir, count, 'UTC', true)),
    });
  }
  // Issue 8: the steady-state sweep at 1M, 4M and 16M rows against the design before it.
  if (section('steady')) {
    results.scale8.steady = await benchSteady({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, dir, env: BENCH_ENV, sizes: STEADY_ROWS, log });
  }
  // Deletion lag with a real worker (the built CLI) and an application writing rows that expire every 100 ms.
  if (section('lag')) {
    log('lag: a worker and an application writing rows that expire every 100 ms');
    results.scale8.lag = await benchLag({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, dir, seconds: LAG_SECONDS, retention: [process.execPath, builtCli(log)], log });
  }
  if (section('partitions')) {
    log(`partitions: ${PARTITION_ROWS} rows in monthly partitions`);
    const partitions = await benchPartitions({ databaseUrl: DATABASE_URL, rows: PARTITION_ROWS, redisUrl: REDIS_URL, log });
    results.scale8.partitions = {
      render: () => renderPartitions(partitions).replace(/^## /, '### '),
      ratio: partitions.ratio,
      note: `(${partitions.netRatio.toFixed(0)} x net of what a run with nothing to do costs; ${partitions.sweep.drops} partitions dropped)`,
    };
  }
  // Start-up last: the machine is quietest once the data sets are gone.
  await pool.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE`);
  await pool.query(`CREATE SCHEMA ${BENCH_SCHEMA}`);
  if (section('startup')) {
    log('start-up of the built CLI');
    builtCli(log);
    results.scale8.startup = await benchStartup({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, dir, log });
  }
  results.machine.roundTripMs[1] = await roundTrip(pool);
} finally {
  log('cleaning up');
  await pool.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE`).catch(() => undefined);
  await cleanState().catch(() => undefined);
  await deleteMatching(redis, 'retention_bench:*').catch(() => undefined);
  // The sessions the Redis section left (half its keys) and the issue 8 sections' queues:
  // half a million keys left behind slow every SCAN on this Redis, tests' included.
  for (const pattern of [`${BENCH_KEY_PREFIX}*`, 'retention_bench_part:*', 'retention_bench_lag:*', 'retention_bench_startup*']) {
    await deleteMatching(redis, pattern).catch(() => undefined);
  }
  await pool.end();
  redis.disconnect();
  rmSync(dir, { recursive: true, force: true });
}

results.seconds = (performance.now() - started) / 1000;
results.machine.load = [loadAtStart, loadavg().map((l) => l.toFixed(2)).join(' ')];
const file = writeReport(results);
log(`wrote ${file}`);
