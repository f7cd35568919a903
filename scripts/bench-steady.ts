import { execFileSync } from 'node:child_process';
import { existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { stringify } from 'yaml';
import { BENCH_QUEUE_PREFIX, BENCH_SCHEMA, BENCH_STATE_SCHEMA } from './bench-data.js';

/**
 * Issue 8, "cost proportional to what expires": a steady-state sweep, the one that runs
 * every hour once the backlog is gone, removing 1,000 newly expired rows from tables of
 * 1M, 4M and 16M rows, for two contenders on the same data:
 *
 * - this checkout's sweep (planning through the anchor index, one audit entry for a sweep
 *   with nothing to do, the fraction limit counting only as far as it needs);
 * - the design before issue 8 (BASELINE_COMMIT, checked out in a git worktree and run in
 *   this same process): key ranges over the whole table, an entry per batch.
 *
 * Each runs `runSweeps` (what `retention run --rule` does) with the default limits
 * (maxFraction 0.2), in a runtime that has swept once already, as a worker's has. Every statement either sends through node-postgres is counted and timed at
 * the client (its time includes one round trip, ~0.15 ms here), split into statements on
 * the swept table and the state database's bookkeeping.
 */

/** The last commit before issue 8: the baseline contender's code. */
export const BASELINE_COMMIT = 'd8424be';
const RULE = 'steady';
const RETAIN_DAYS = 30;
const NEWLY_EXPIRED = 1_000;

export interface SteadyRun {
  contender: 'this checkout' | 'before issue 8';
  tableRows: number;
  seconds: number;
  rows: number;
  batches: number;
  /** Statements on the swept table (plan, count, delete). */
  tableStatements: number;
  tableMs: number;
  /** Every other statement (state database: sweeps, batches, audit, holds; catalog reads). */
  otherStatements: number;
  otherMs: number;
  auditEntries: number;
}

export interface SteadyResult {
  runs: SteadyRun[];
  /** A sweep with nothing to do, on the largest table. */
  empty: SteadyRun[];
}

interface Counted {
  text: string;
  ms: number;
}

/** Counts and times every statement node-postgres sends while installed (benchmark only). */
function countStatements(): { stop: () => Counted[] } {
  const seen: Counted[] = [];
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const first = args[0];
    const text = typeof first === 'string' ? first : ((first as { text?: unknown } | null)?.text as string | undefined);
    const started = performance.now();
    const last = args[args.length - 1];
    if (typeof text === 'string' && typeof last === 'function') {
      // The callback form (pg.Pool#query uses it).
      args[args.length - 1] = (...result: unknown[]) => {
        seen.push({ text, ms: performance.now() - started });
        (last as (...r: unknown[]) => void)(...result);
      };
      return original.apply(this, args);
    }
    const returned = original.apply(this, args);
    if (typeof text === 'string' && returned && typeof (returned as Promise<unknown>).then === 'function') {
      (returned as Promise<unknown>).then(
        () => seen.push({ text, ms: performance.now() - started }),
        () => seen.push({ text, ms: performance.now() - started }),
      );
    }
    return returned;
  };
  return {
    stop: () => {
      proto.query = original;
      return seen;
    },
  };
}

/** The baseline's source tree: a worktree of BASELINE_COMMIT sharing this checkout's node_modules. */
export function baselineTree(root: string): string {
  const dir = join(tmpdir(), `retention-baseline-${BASELINE_COMMIT}`);
  if (!existsSync(join(dir, 'package.json'))) {
    execFileSync('git', ['worktree', 'add', '--force', '--detach', dir, BASELINE_COMMIT], { cwd: root, stdio: 'ignore' });
  }
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

async function buildTable(pool: pg.Pool, rows: number): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.steady`);
  // Ids 1..NEWLY_EXPIRED are left for the rows each round makes newly expired (the oldest:
  // the lowest ids); the rest span the retention period, none expired.
  await pool.query(
    `CREATE TABLE ${BENCH_SCHEMA}.steady AS
       SELECT g + ${NEWLY_EXPIRED} AS id, now() - interval '${RETAIN_DAYS - 1} days' * (1 - g::float8 / $1) AS created_at,
              'user' || (g % 200000) || '@example.com' AS email
         FROM generate_series(1, $1::bigint) g`,
    [rows],
  );
  await pool.query(`ALTER TABLE ${BENCH_SCHEMA}.steady ADD PRIMARY KEY (id)`);
  await pool.query(`CREATE INDEX ON ${BENCH_SCHEMA}.steady (created_at)`);
  await pool.query(`VACUUM ANALYZE ${BENCH_SCHEMA}.steady`);
  await pool.query('CHECKPOINT');
}

/** The state of a steady-state hour: NEWLY_EXPIRED rows just past their end, nothing else. */
async function expireSome(pool: pg.Pool, n: number): Promise<void> {
  await pool.query(`DELETE FROM ${BENCH_SCHEMA}.steady WHERE id <= ${NEWLY_EXPIRED}`);
  if (n > 0) {
    await pool.query(
      `INSERT INTO ${BENCH_SCHEMA}.steady SELECT g, now() - interval '${RETAIN_DAYS} days' - interval '1 minute' * g, 'old' || g || '@example.com' FROM generate_series(1, $1::int) g`,
      [n],
    );
  }
  await pool.query(`VACUUM ANALYZE ${BENCH_SCHEMA}.steady`);
}

function writeConfig(dir: string, databaseUrl: string, redisUrl: string): string {
  const file = join(dir, 'bench-steady.yaml');
  writeFileSync(
    file,
    stringify({
      timezone: 'UTC',
      redis: redisUrl,
      state: databaseUrl,
      stateSchema: BENCH_STATE_SCHEMA,
      queuePrefix: BENCH_QUEUE_PREFIX,
      stores: { app: { kind: 'postgres', url: databaseUrl } },
      rules: [{ id: RULE, source: 'benchmark: steady state, 30 days', store: 'app', table: `${BENCH_SCHEMA}.steady`, anchor: 'created_at', retain: `P${RETAIN_DAYS}D`, action: 'delete', schedule: 'manual' }],
    }),
  );
  return file;
}

/**
 * One sweep of the rule with the code under `root` (this checkout or the baseline's tree),
 * in this process, as a running worker makes it: the runtime has swept once already (its
 * catalog reads cached, its connections open), then `prepare` sets the data and the sweep
 * is measured.
 */
async function sweepWith(
  root: string,
  file: string,
  env: NodeJS.ProcessEnv,
  redisUrl: string,
  contender: SteadyRun['contender'],
  tableRows: number,
  pool: pg.Pool,
  prepare: () => Promise<void>,
): Promise<SteadyRun> {
  const load = (path: string) => import(pathToFileURL(join(root, path)).href);
  const { loadConfig } = await load('src/policy/load-config.ts');
  const { STORE_KINDS } = await load('src/stores/registry.ts');
  const { openRuntime, connectRuntime } = await load('src/runtime/runtime.ts');
  const { runSweeps } = await load('src/queue/run-sweeps.ts');
  const { Redis } = await import('ioredis');
  const config = loadConfig(file, env, STORE_KINDS);
  const runtime = await openRuntime(config, env);
  await connectRuntime(runtime);
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  // The warm-up sweep: whatever the data, its own figures are not kept.
  await runSweeps(runtime, config.rules, { connection, dryRun: false, actor: 'bench', concurrency: 2 });
  await prepare();
  const before = Number((await pool.query(`SELECT count(*) AS n FROM ${BENCH_STATE_SCHEMA}.audit_log`)).rows[0].n);
  const counter = countStatements();
  const started = performance.now();
  let swept;
  let seconds = 0;
  let statements: Counted[] = [];
  try {
    swept = (await runSweeps(runtime, config.rules, { connection, dryRun: false, actor: 'bench', concurrency: 2 })).swept[0];
  } finally {
    seconds = (performance.now() - started) / 1000;
    statements = counter.stop();
    // BENCH_DEBUG=1: every statement of the sweep, to see where its time goes.
    if (process.env.BENCH_DEBUG) for (const s of statements) console.log(`${contender} ${s.ms.toFixed(2)} ms ${s.text.replace(/\s+/g, ' ').slice(0, 160)}`);
    connection.disconnect();
    await runtime.close();
  }
  const after = Number((await pool.query(`SELECT count(*) AS n FROM ${BENCH_STATE_SCHEMA}.audit_log`)).rows[0].n);
  const onTable = statements.filter((s) => s.text.includes(`${BENCH_SCHEMA}.steady`) || s.text.includes(`"${BENCH_SCHEMA}"."steady"`));
  const other = statements.filter((s) => !onTable.includes(s));
  const sum = (list: Counted[]) => list.reduce((t, s) => t + s.ms, 0);
  return {
    contender,
    tableRows,
    seconds,
    rows: swept.sweep.rowsAffected,
    batches: swept.sweep.batchesTotal,
    tableStatements: onTable.length,
    tableMs: sum(onTable),
    otherStatements: other.length,
    otherMs: sum(other),
    auditEntries: after - before,
  };
}

export async function benchSteady(opts: { databaseUrl: string; redisUrl: string; dir: string; env: NodeJS.ProcessEnv; sizes: number[]; rounds?: number; log?: (m: string) => void }): Promise<SteadyResult> {
  const log = opts.log ?? (() => undefined);
  const root = resolve(import.meta.dirname, '..');
  const baseline = baselineTree(root);
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 2 });
  const file = writeConfig(opts.dir, opts.databaseUrl, opts.redisUrl);
  const runs: SteadyRun[] = [];
  const empty: SteadyRun[] = [];
  try {
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${BENCH_SCHEMA}`);
    for (const size of opts.sizes) {
      log(`steady state: building ${size.toLocaleString('en')} rows`);
      await buildTable(pool, size);
      for (let round = 0; round < (opts.rounds ?? 2); round++) {
        for (const [contender, tree] of [
          ['this checkout', root],
          ['before issue 8', baseline],
        ] as const) {
          const run = await sweepWith(tree, file, opts.env, opts.redisUrl, contender, size, pool, () => expireSome(pool, NEWLY_EXPIRED));
          if (run.rows !== NEWLY_EXPIRED) throw new Error(`${contender} deleted ${run.rows} rows, not ${NEWLY_EXPIRED}`);
          runs.push(run);
          log(`steady state ${size}: ${contender} ${(run.seconds * 1000).toFixed(0)} ms, ${run.tableStatements}+${run.otherStatements} statements`);
        }
      }
      if (size === Math.max(...opts.sizes)) {
        for (const [contender, tree] of [
          ['this checkout', root],
          ['before issue 8', baseline],
        ] as const) {
          empty.push(await sweepWith(tree, file, opts.env, opts.redisUrl, contender, size, pool, () => expireSome(pool, 0)));
        }
      }
    }
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.steady`).catch(() => undefined);
    await pool.end();
  }
  return { runs, empty };
}

/** The best round of each contender at each size (least statement time on the table). */
function best(runs: SteadyRun[]): SteadyRun[] {
  const out = new Map<string, SteadyRun>();
  for (const r of runs) {
    const key = `${r.tableRows}|${r.contender}`;
    const seen = out.get(key);
    if (!seen || r.tableMs + r.otherMs < seen.tableMs + seen.otherMs) out.set(key, r);
  }
  return [...out.values()];
}

export function renderSteady(r: SteadyResult): string {
  const fmt = (n: number) => n.toLocaleString('en');
  const row = (x: SteadyRun) =>
    `| ${fmt(x.tableRows)} | ${x.contender === 'this checkout' ? '**this checkout**' : x.contender} | ${(x.seconds * 1000).toFixed(0)} ms | ${fmt(x.rows)} | ${x.batches} | ${x.tableStatements} | ${x.tableMs.toFixed(1)} ms | ${x.otherStatements} | ${x.otherMs.toFixed(1)} ms | ${x.auditEntries} |`;
  return [
    '| table rows | contender | sweep wall time | rows deleted | batches | statements on the table | their time | other statements | their time | audit entries |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...best(r.runs).map(row),
    '',
    'A sweep with nothing to do, on the largest table:',
    '',
    '| table rows | contender | sweep wall time | rows deleted | batches | statements on the table | their time | other statements | their time | audit entries |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...r.empty.map(row),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { mkdtempSync } = await import('node:fs');
  const { BENCH_ENV, DATABASE_URL, REDIS_URL } = await import('./bench-sweep.js');
  const sizes = (process.argv[2] ?? '100000').split(',').map(Number);
  const result = await benchSteady({ databaseUrl: DATABASE_URL, redisUrl: REDIS_URL, dir: mkdtempSync(join(tmpdir(), 'bench-steady-')), env: BENCH_ENV, sizes, log: console.log });
  console.log(renderSteady(result));
}
