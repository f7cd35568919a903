import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Config } from '../src/policy/config.js';
import { loadConfig } from '../src/policy/load-config.js';
import { planSweep } from '../src/planner/plan-sweep.js';
import { createRedis } from '../src/queue/redis-connection.js';
import { runSweeps } from '../src/queue/run-sweeps.js';
import { sweepIdFor } from '../src/executor/start-sweep.js';
import { enqueueSweep, openQueue } from '../src/queue/sweep-queue.js';
import { recordManualTrigger } from '../src/queue/manual-trigger.js';
import { connectRuntime, openRuntime, type Runtime } from '../src/runtime/runtime.js';
import { findSweep } from '../src/state/sweeps.js';
import { BENCH_KEY_PREFIX, BENCH_STATEMENTS, BENCH_QUEUE_PREFIX, BENCH_SCHEMA, BENCH_STATE_SCHEMA, RETAIN, SESSION_FIELD, SESSION_RETAIN } from './bench-data.js';
import { onStatement, type StatementTiming } from './bench-probe.js';
import { STORE_KINDS } from '../src/stores/registry.js';
import { expired } from '../src/stores/selection.js';

export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const SWEEP_TIMEOUT_MS = 300_000;
/** Only for the benchmark's own anonymize rule. */
export const BENCH_HMAC_KEY = 'retention-benchmark-hmac-key-0123456789abcdef';
/** Only for the benchmark's own audit chain (its state schema is dropped with it). */
export const BENCH_AUDIT_KEY = 'retention-benchmark-audit-key-0123456789abcdef';
/** What every benchmark process and runtime runs with: the benchmark's own keys. */
export const BENCH_ENV: NodeJS.ProcessEnv = { ...process.env, RETENTION_HMAC_KEY: BENCH_HMAC_KEY, RETENTION_AUDIT_KEY: BENCH_AUDIT_KEY };


export const RULE_DELETE = 'logs-delete';
export const RULE_ANONYMIZE = 'logs-anonymize';
export const RULE_SESSIONS = 'sessions';

/** Writes the benchmark's config, as a user would write it, and loads it as the CLI does. */
export function writeBenchConfig(dir: string, options: { batchSize?: number; concurrency?: number } = {}): { file: string; config: Config } {
  const batch = options.batchSize === undefined ? {} : { batchSize: options.batchSize };
  const text = stringify({
    timezone: 'UTC',
    redis: REDIS_URL,
    state: DATABASE_URL,
    stateSchema: BENCH_STATE_SCHEMA,
    queuePrefix: BENCH_QUEUE_PREFIX,
    stores: { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: REDIS_URL } },
    // The benchmark sweeps a six-year backlog at once, over the default 20% blast radius.
    limits: { maxFraction: 1 },
    ...(options.concurrency === undefined ? {} : { worker: { concurrency: options.concurrency } }),
    rules: [
      { id: RULE_DELETE, source: 'benchmark: login logs 18 months', store: 'app', table: `${BENCH_SCHEMA}.logs`, anchor: 'created_at', retain: RETAIN, action: 'delete', schedule: 'manual', ...batch },
      {
        id: RULE_ANONYMIZE,
        source: 'benchmark: anonymize login logs after 18 months',
        store: 'app',
        table: `${BENCH_SCHEMA}.logs`,
        anchor: 'created_at',
        retain: RETAIN,
        action: 'anonymize',
        anonymize: { email: 'hmac', ip: 'truncate-ip', user_agent: 'null' },
        schedule: 'manual',
        ...batch,
      },
      { id: RULE_SESSIONS, source: 'benchmark: sessions 30 days', store: 'cache', keys: `${BENCH_KEY_PREFIX}*`, anchor: SESSION_FIELD, anchorUnit: 'ms', retain: SESSION_RETAIN, action: 'delete', schedule: 'manual' },
    ],
  });
  const file = join(dir, `bench-${options.batchSize ?? 'default'}-${options.concurrency ?? 'default'}.yaml`);
  writeFileSync(file, text);
  return { file, config: loadConfig(file, BENCH_ENV, STORE_KINDS) };
}

export async function openBenchRuntime(config: Config): Promise<Runtime> {
  const runtime = await openRuntime(config, BENCH_ENV);
  await connectRuntime(runtime);
  return runtime;
}

export interface SweepResult {
  seconds: number;
  rows: number;
  batches: number;
  timings: StatementTiming[];
}

/** `retention run --rule ID`, in this process: runSweeps with the config's concurrency. */
export async function sweepInProcess(config: Config, ruleId: string): Promise<SweepResult> {
  const runtime = await openBenchRuntime(config);
  const connection = createRedis(config.redis);
  connection.on('error', () => undefined);
  const timings: StatementTiming[] = [];
  const stop = onStatement(BENCH_STATEMENTS, (t) => timings.push(t));
  try {
    const rule = config.rules.find((r) => r.id === ruleId)!;
    const started = performance.now();
    const [result] = (await runSweeps(runtime, [rule], { connection, dryRun: false, actor: 'bench', concurrency: config.worker.concurrency })).swept;
    const seconds = (performance.now() - started) / 1000;
    return { seconds, rows: result!.sweep.rowsAffected, batches: result!.sweep.batchesTotal, timings };
  } finally {
    stop();
    connection.disconnect();
    await runtime.close();
  }
}

/**
 * A diagnostic, not a contender: the sweep's own batch statements (same partition, same
 * DELETE per key range, each in its own transaction) run back to back on `connections`
 * connections, without the queue, the checkpoints or the audit log. The difference to the
 * sweep is what the bookkeeping costs.
 */
export async function batchesAlone(config: Config, ruleId: string, connections: number): Promise<SweepResult> {
  const runtime = await openBenchRuntime(config);
  const timings: StatementTiming[] = [];
  const stop = onStatement(BENCH_STATEMENTS, (t) => timings.push(t));
  try {
    const rule = config.rules.find((r) => r.id === ruleId)!;
    const store = runtime.storeFor(rule);
    const started = performance.now();
    const now = (await runtime.state.db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const { ranges } = planSweep(rule, now);
    const parts = await store.partition(rule, expired(ranges));
    let next = 0;
    let rows = 0;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (next < parts.length) {
          const keyRange = parts[next++]!;
          const changed = await store.apply({ rule, selection: expired(ranges), keyRange, dryRun: false, context: runtime.contextFor(rule) });
          rows += changed.rows;
        }
      }),
    );
    return { seconds: (performance.now() - started) / 1000, rows, batches: parts.length, timings };
  } finally {
    stop();
    await runtime.close();
  }
}

/** A real `retention worker` process, with the benchmark's statement probe preloaded. */
export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Peak resident set so far (VmHWM), in MB. */
  peakRssMb(): number;
  /** SIGTERM, wait for the graceful exit; returns the peak RSS read just before. */
  stop(): Promise<number>;
}

export async function startWorkerProcess(configFile: string, logFile: string, concurrency?: number): Promise<WorkerProcess> {
  writeFileSync(logFile, '');
  const args = ['--import', 'tsx', join(import.meta.dirname, 'bench-worker.ts'), 'worker', '--config', configFile];
  if (concurrency !== undefined) args.push('--concurrency', String(concurrency));
  const child = spawn(process.execPath, args, {
    env: { ...BENCH_ENV, BENCH_STATEMENT_LOG: logFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('"worker started"')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    void exited.then((code) => reject(new Error(`worker exited (${code}) before starting:\n${output}`)));
  });
  const pid = child.pid!;
  const peakRssMb = () => {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN);
    return kb / 1024;
  };
  return {
    child,
    pid,
    logFile,
    peakRssMb,
    async stop() {
      const peak = peakRssMb();
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`worker ${pid} exited with ${code}:\n${output.slice(-2000)}`);
      return peak;
    },
  };
}

export function readTimings(logFile: string): StatementTiming[] {
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as StatementTiming);
}

/**
 * Queues one sweep of `ruleId` for the running worker processes (as a schedule or
 * `retention run` would) and waits until the state database records it done.
 */
export async function sweepOnWorkers(config: Config, ruleId: string): Promise<Omit<SweepResult, 'timings'>> {
  const runtime = await openBenchRuntime(config);
  const connection = createRedis(config.redis);
  connection.on('error', () => undefined);
  const queue = openQueue(connection, config.queuePrefix);
  try {
    const rule = config.rules.find((r) => r.id === ruleId)!;
    const { jobId, data } = await recordManualTrigger(runtime.state, rule, { actor: 'bench', dryRun: false });
    const sweepId = sweepIdFor(jobId);
    const started = performance.now();
    await enqueueSweep(queue, data, jobId);
    for (;;) {
      if (performance.now() - started > SWEEP_TIMEOUT_MS) throw new Error(`sweep of ${ruleId} on the workers did not finish in ${SWEEP_TIMEOUT_MS / 1000} s`);
      const sweep = await findSweep(runtime.state, sweepId);
      if (sweep?.status === 'done') {
        return { seconds: (performance.now() - started) / 1000, rows: sweep.rowsAffected, batches: sweep.batchesTotal };
      }
      if (sweep?.status === 'blocked') throw new Error(`sweep of ${ruleId} was blocked: ${sweep.blocked?.reason}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await queue.close();
    connection.disconnect();
    await runtime.close();
  }
}
