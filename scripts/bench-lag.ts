import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';

/**
 * Deletion lag under next-expiry scheduling (issue 8, "deleted within seconds of the
 * promised date"): a real `retention worker` process and an application whose rows expire
 * one every 100 ms, for `seconds`; every deletion's instant is recorded by an AFTER DELETE
 * trigger (`clock_timestamp()`, the database's clock, which the anchors use too), and the
 * lag of each row is that instant minus the end of its retention period. Then, with
 * nothing due (the remaining rows expire in days), how many queries the worker runs
 * against the table per rule per minute, from `pg_stat_user_tables` (sequential plus index
 * scans of the table: every statement on it starts at least one).
 *
 * The rule is what a user writes: `retain: P30D`, `schedule: PT1H`, so that the regular
 * schedule runs once at the worker's start and not again during the run: every deletion
 * after the first sweep is next-expiry scheduling's. The table is in steady state: rows
 * written 30 days ago at 10 a second expire now at 10 a second (the application writes
 * them with anchors 30 days back, 5 s before their end), and the application also writes
 * today's rows, which expire in 30 days, as a real one would.
 */

const SCHEMA = 'retention_bench_lag';
const STATE_SCHEMA = 'retention_bench_lag_state';
const QUEUE_PREFIX = 'retention_bench_lag';
const RULE_ID = 'events';
const RETAIN = 'P30D';
/** The same period as an interval that means 30 x 24 hours in any session zone. */
const RETAIN_SQL = "interval '720 hours'";
/** One row expires every this many ms while the application runs. */
const EXPIRE_EVERY_MS = 100;
/** How far ahead of its end the application writes an expiring row (its anchor is 30 days minus this back). */
const LEAD_MS = 5_000;
/** Rows already in the table that expire over the next 30 days: the table is not empty when nothing is due. */
const FUTURE_ROWS = 100_000;
/** Waited for the rows still due when the application stops. */
const DRAIN_TIMEOUT_MS = 60_000;
/** PostgreSQL 15 flushes a backend's table statistics within 10 s of it going idle; snapshots wait this long. */
const STATS_SETTLE_MS = 11_000;
/** The targets. */
export const LAG_TARGETS = { p50Ms: 2_000, p99Ms: 5_000, idleQueriesPerRulePerMinute: 1 } as const;
/** Only for the benchmark's own audit chain (its state schema is dropped with it). */
const AUDIT_KEY = 'retention-benchmark-lag-audit-key-0123456789abcdef';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface LagOptions {
  databaseUrl: string;
  redisUrl: string;
  /** Where the config and the worker's log go. */
  dir: string;
  /** How long the application runs (rows expiring every 100 ms). */
  seconds: number;
  /** How long nothing is due while the table's queries are counted; default 60. */
  idleSeconds?: number;
  /**
   * The command that runs `retention` (before its arguments): default the development
   * entry, `node scripts/retention.mjs` (tsx); the benchmark passes the built CLI.
   */
  retention?: readonly string[];
  log?: (line: string) => void;
}

export interface LagResult {
  seconds: number;
  /** Rows that became due while the worker ran (after it reported started). */
  due: number;
  /** Of those, deleted by the end of the drain; the rest were left (should be 0). */
  deleted: number;
  /** Rows deleted before their end, over the whole run: the worst bug there is; must be 0. */
  early: number;
  /** Lag from eligibility (anchor + retain) to deletion, over the rows deleted, in ms. */
  lag: { p50: number; p90: number; p99: number; max: number };
  /** Sweeps the worker ran while the application ran, and audit entries written. */
  sweeps: number;
  auditEntries: number;
  /** Scans of the table from the worker's start to the end of the drain, per minute: the contrast to `idle`. */
  activeQueriesPerMinute: number;
  idle: {
    /** Seconds between the two statistics snapshots. */
    seconds: number;
    sequentialScans: number;
    indexScans: number;
    /** (sequential + index scans of the table) per rule per minute. */
    queriesPerRulePerMinute: number;
  };
  /** The worker's command, as run. */
  command: string;
}

export async function benchLag(opts: LagOptions): Promise<LagResult> {
  const say = opts.log ?? (() => undefined);
  const idleSeconds = opts.idleSeconds ?? 60;
  const retention = opts.retention ?? [process.execPath, join(ROOT, 'scripts', 'retention.mjs')];
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 3 });
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  let worker: ChildProcess | null = null;
  let app: NodeJS.Timeout | null = null;
  try {
    await reset(pool, redis);
    await pool.query(`CREATE SCHEMA ${SCHEMA}`);
    await pool.query(`CREATE TABLE ${SCHEMA}.events (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, payload text)`);
    await pool.query(`CREATE INDEX events_created_at ON ${SCHEMA}.events (created_at)`);
    // Each deletion, with the database's clock at that moment (not the transaction's start).
    await pool.query(`CREATE TABLE ${SCHEMA}.deletions (id bigint NOT NULL, created_at timestamptz NOT NULL, payload text, deleted_at timestamptz NOT NULL)`);
    await pool.query(
      `CREATE FUNCTION ${SCHEMA}.record_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO ${SCHEMA}.deletions VALUES (OLD.id, OLD.created_at, OLD.payload, clock_timestamp()); RETURN NULL; END $$`,
    );
    await pool.query(`CREATE TRIGGER record_deletion AFTER DELETE ON ${SCHEMA}.events FOR EACH ROW EXECUTE FUNCTION ${SCHEMA}.record_deletion()`);
    await pool.query(
      `INSERT INTO ${SCHEMA}.events (created_at, payload)
       SELECT now() - ${RETAIN_SQL} + make_interval(secs => 3600 + g * (29 * 86400.0 / $1)), 'future' FROM generate_series(1, $1) g`,
      [FUTURE_ROWS],
    );
    await pool.query(`ANALYZE ${SCHEMA}.events`);

    const configFile = join(opts.dir, 'bench-lag.yaml');
    writeFileSync(
      configFile,
      stringify({
        timezone: 'UTC',
        redis: opts.redisUrl,
        state: opts.databaseUrl,
        stateSchema: STATE_SCHEMA,
        queuePrefix: QUEUE_PREFIX,
        stores: { app: { kind: 'postgres', url: opts.databaseUrl } },
        rules: [{ id: RULE_ID, source: 'benchmark: events 30 days', store: 'app', table: `${SCHEMA}.events`, anchor: 'created_at', retain: RETAIN, action: 'delete', schedule: 'PT1H' }],
      }),
    );

    // The application: one row expiring every 100 ms (written 5 s before its end), and a
    // row of today (expiring in 30 days) alongside each. Started before the worker, so
    // that the worker's first sweep finds rows about to expire (see the README: rows
    // written to expire sooner than the rule's pending instant wait for the schedule).
    let written = 0;
    let failed: Error | null = null;
    const write = () => {
      pool
        .query(
          `INSERT INTO ${SCHEMA}.events (created_at, payload) VALUES (clock_timestamp() - ${RETAIN_SQL} + $1 * interval '1 millisecond', 'expiring'), (clock_timestamp(), 'today')`,
          [LEAD_MS],
        )
        .then(() => written++)
        .catch((error: Error) => (failed ??= error));
    };
    write();
    app = setInterval(write, EXPIRE_EVERY_MS);

    const atStart = await scans(pool);
    say(`bench-lag: starting ${retention.join(' ')} worker`);
    const logFile = join(opts.dir, 'bench-lag-worker.log');
    const started = await startWorker(retention, configFile, logFile);
    worker = started.child;
    const workerReady = await dbNow(pool);
    const sweepsBefore = await count(pool, `SELECT count(*) AS n FROM ${STATE_SCHEMA}.sweeps`);
    const auditBefore = await count(pool, `SELECT count(*) AS n FROM ${STATE_SCHEMA}.audit_log`);
    say(`bench-lag: worker ready; the application runs ${opts.seconds} s`);
    await sleep(opts.seconds * 1_000);
    clearInterval(app);
    app = null;
    if (failed) throw failed;
    const stopped = await dbNow(pool);
    const sweeps = (await count(pool, `SELECT count(*) AS n FROM ${STATE_SCHEMA}.sweeps`)) - sweepsBefore;
    const auditEntries = (await count(pool, `SELECT count(*) AS n FROM ${STATE_SCHEMA}.audit_log`)) - auditBefore;

    // The last expiring rows end up to LEAD_MS after the application stopped. Waiting reads
    // the deletions only: the table's scans are the worker's alone.
    const dueUntil = new Date(stopped.getTime() + LEAD_MS);
    await sleep(200);
    const drainEnd = Date.now() + DRAIN_TIMEOUT_MS + LEAD_MS;
    while (Date.now() < drainEnd) {
      if ((await count(pool, `SELECT count(*) AS n FROM ${SCHEMA}.deletions WHERE payload = 'expiring'`)) >= written) break;
      await sleep(500);
    }

    // Rows that became due while the worker ran: their lag, and how many are still there.
    const { rows } = await pool.query<{ due: string; deleted: string; p50: number | null; p90: number | null; p99: number | null; max: number | null }>(
      `WITH due AS (SELECT id, created_at + ${RETAIN_SQL} AS due_at FROM ${SCHEMA}.events WHERE payload = 'expiring' AND created_at + ${RETAIN_SQL} BETWEEN $1 AND $2
                    UNION ALL
                    SELECT id, created_at + ${RETAIN_SQL} FROM ${SCHEMA}.deletions WHERE created_at + ${RETAIN_SQL} BETWEEN $1 AND $2),
            lags AS (SELECT extract(epoch FROM d.deleted_at - (d.created_at + ${RETAIN_SQL})) * 1000 AS ms
                       FROM ${SCHEMA}.deletions d WHERE d.created_at + ${RETAIN_SQL} BETWEEN $1 AND $2)
       SELECT (SELECT count(*) FROM due) AS due, (SELECT count(*) FROM lags) AS deleted,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY ms)::float8 AS p90,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8 AS p99,
              max(ms)::float8 AS max
         FROM lags`,
      [workerReady, dueUntil],
    );
    const summary = rows[0]!;
    const early = await count(pool, `SELECT count(*) AS n FROM ${SCHEMA}.deletions WHERE deleted_at < created_at + ${RETAIN_SQL}`);

    // Nothing due now for 30 days minus an hour: count what the worker reads meanwhile.
    say(`bench-lag: idle window, ${idleSeconds} s`);
    await sleep(STATS_SETTLE_MS);
    const before = await scans(pool);
    const activeQueriesPerMinute = ((before.seq + before.idx - atStart.seq - atStart.idx) / (before.at - atStart.at)) * 60_000;
    await sleep(idleSeconds * 1_000 + STATS_SETTLE_MS);
    const after = await scans(pool);
    const idleElapsed = (after.at - before.at) / 1_000;
    const sequentialScans = after.seq - before.seq;
    const indexScans = after.idx - before.idx;

    return {
      seconds: opts.seconds,
      due: Number(summary.due),
      deleted: Number(summary.deleted),
      early,
      lag: { p50: summary.p50 ?? 0, p90: summary.p90 ?? 0, p99: summary.p99 ?? 0, max: summary.max ?? 0 },
      sweeps,
      auditEntries,
      activeQueriesPerMinute,
      idle: { seconds: idleElapsed, sequentialScans, indexScans, queriesPerRulePerMinute: ((sequentialScans + indexScans) / idleElapsed) * 60 },
      command: `${retention.map((part) => part.replace(ROOT, '')).join(' ')} worker`,
    };
  } finally {
    if (app) clearInterval(app);
    if (worker && worker.exitCode === null) {
      const exited = new Promise((resolve) => worker!.once('exit', resolve));
      worker.kill('SIGTERM');
      await exited;
    }
    await reset(pool, redis).catch(() => undefined);
    redis.disconnect();
    await pool.end();
  }
}

/** The result as a Markdown section for docs/benchmarks.md. */
export function renderLag(r: LagResult): string {
  const s = (ms: number) => `${(ms / 1_000).toFixed(2)} s`;
  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  return [
    '## Deletion lag (next-expiry scheduling)',
    '',
    `A real \`retention worker\` (\`${r.command}\`), one rule (\`retain: ${RETAIN}\`, \`schedule: PT1H\`: the regular schedule runs once, at the worker's start) on a table of ${FUTURE_ROWS.toLocaleString('en')} rows expiring over the next 30 days, while an application writes for ${r.seconds} s a row that expires every ${EXPIRE_EVERY_MS} ms (and a row of today beside it). Each deletion's instant comes from an AFTER DELETE trigger (\`clock_timestamp()\`); lag = that instant minus the row's end (anchor + 30 days). Then nothing is due for a month, and the table's scans are counted from \`pg_stat_user_tables\`.`,
    '',
    '| measure | target | result | |',
    '| --- | --- | --- | --- |',
    `| p50 lag, eligibility to deletion | <= ${s(LAG_TARGETS.p50Ms)} | ${s(r.lag.p50)} | ${mark(r.lag.p50 <= LAG_TARGETS.p50Ms)} |`,
    `| p99 lag | <= ${s(LAG_TARGETS.p99Ms)} | ${s(r.lag.p99)} | ${mark(r.lag.p99 <= LAG_TARGETS.p99Ms)} |`,
    `| p90 / max lag | | ${s(r.lag.p90)} / ${s(r.lag.max)} | |`,
    `| rows due while the worker ran / deleted | all | ${r.due} / ${r.deleted} | ${mark(r.due === r.deleted)} |`,
    `| rows deleted before their end | 0 | ${r.early} | ${mark(r.early === 0)} |`,
    `| sweeps (audit entries) while the application ran | | ${r.sweeps} (${r.auditEntries}) | |`,
    `| rows expiring: queries on the table per minute (start to drain) | | ${r.activeQueriesPerMinute.toFixed(0)} | |`,
    `| nothing due: queries on the table per rule per minute (${r.idle.sequentialScans} seq + ${r.idle.indexScans} index scans in ${r.idle.seconds.toFixed(0)} s) | <= ${LAG_TARGETS.idleQueriesPerRulePerMinute} | ${r.idle.queriesPerRulePerMinute.toFixed(2)} | ${mark(r.idle.queriesPerRulePerMinute <= LAG_TARGETS.idleQueriesPerRulePerMinute)} |`,
  ].join('\n');
}

async function startWorker(command: readonly string[], configFile: string, logFile: string): Promise<{ child: ChildProcess }> {
  const [bin, ...args] = command;
  const child = spawn(bin!, [...args, 'worker', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, RETENTION_AUDIT_KEY: AUDIT_KEY },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-20_000);
      if (output.includes('"worker started"')) {
        child.stdout!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before starting:\n${output}`)));
  });
  return { child };
}

async function scans(pool: pg.Pool): Promise<{ at: number; seq: number; idx: number }> {
  await pool.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await pool.query<{ seq: string; idx: string; at: Date }>(
    `SELECT coalesce(seq_scan, 0) AS seq, coalesce(idx_scan, 0) AS idx, clock_timestamp() AS at FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events'`,
    [SCHEMA],
  );
  return { at: rows[0]!.at.getTime(), seq: Number(rows[0]!.seq), idx: Number(rows[0]!.idx) };
}

async function reset(pool: pg.Pool, redis: Redis): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS ${STATE_SCHEMA} CASCADE`);
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${QUEUE_PREFIX}:*`, 'COUNT', 1_000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

async function dbNow(pool: pg.Pool): Promise<Date> {
  return (await pool.query<{ now: Date }>('SELECT clock_timestamp() AS now')).rows[0]!.now;
}

async function count(pool: pg.Pool, text: string, values: unknown[] = []): Promise<number> {
  return Number((await pool.query<{ n: string }>(text, values)).rows[0]!.n);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'bench-lag-'));
  const arg = (name: string) => {
    const i = process.argv.indexOf(name);
    return i === -1 ? undefined : process.argv[i + 1];
  };
  try {
    const result = await benchLag({
      databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      redisUrl: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
      dir,
      seconds: Number(arg('--seconds') ?? 60),
      idleSeconds: Number(arg('--idle-seconds') ?? 60),
      log: (line) => console.error(line),
    });
    console.log(renderLag(result));
    console.error(JSON.stringify(result));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
