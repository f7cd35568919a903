import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { deleteMatching } from './bench-data.js';
import { percentile } from './bench-report.js';
import { builtCli } from './built-cli.js';

/**
 * Issue 8, "a CLI that starts fast": the wall time of a `retention` process, from spawn to
 * exit, as a shell or a cron job sees it, for these commands:
 *
 * - `--help`;
 * - `check` of a 10-rule config (10 PostgreSQL tables; it reads each table's catalog, pings
 *   the state database and Redis);
 * - `run --rule rule-0` on the same config with nothing to do (every row young): it checks
 *   the rule against its table, queues one sweep and works the queue until the sweep is
 *   done with 0 rows. The target's measurement: a run's fixed cost.
 * - `run --all`, the same for all 10 rules (10 sweeps), for information: what each sweep
 *   adds on top (planning, bookkeeping, audit), which start-up does not decide; no target.
 *
 * Contenders, measured in turns (one run of each per round, so a busy moment on the
 * machine falls on all of them alike):
 *
 * - the built CLI, dist/src/cli/bin.js (what `npm ci` builds and `bin` installs);
 * - this checkout through tsx (scripts/retention.mjs: the tests' entry, TypeScript compiled
 *   at every start, the command modules still imported lazily);
 * - the design before issue 8 (BASELINE_COMMIT, its files taken with `git archive`, run
 *   through its own scripts/retention.mjs with tsx): every command module and store driver
 *   imported at start. Left out, and said so, where git cannot give it.
 *
 * Each contender has its own state schema and queue prefix on the same tables.
 *
 * And where the built CLI's time goes: node's own start (`node -e ''`) and the import of
 * each package it may load, alone, in a fresh process (`IMPORTS`). A command pays for the
 * packages it loads; with the command modules and the store drivers imported late, `check`
 * of a PostgreSQL config loads zod, yaml, pg and ioredis, `run` bullmq on top.
 */

/** The last commit before issue 8: the baseline contender's code. */
export const BASELINE_COMMIT = 'd8424be';
/** The issue's targets for the built CLI, on the median (`runAll` has none). */
export const STARTUP_TARGETS_MS: Record<Measurement, number | null> = { help: 150, check: 400, run: 500, runAll: null };
const RULES = 10;
const ROWS_PER_TABLE = 1_000;
const SCHEMA = 'retention_bench_startup';
/** Bench only: keys the contenders' audit chains. */
const AUDIT_KEY = 'retention-benchmark-startup-audit-key-0123456789';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The packages whose import cost the report shows: every command's, then the queue's, then the drivers only some configs need. */
const IMPORTS = ['commander', 'zod', 'yaml', 'luxon', 'pg', 'ioredis', 'bullmq', 'mysql2', '@aws-sdk/client-s3'] as const;

export type Measurement = 'help' | 'check' | 'run' | 'runAll';
const MEASUREMENTS: readonly Measurement[] = ['help', 'check', 'run', 'runAll'];
const LABEL: Record<Measurement, string> = {
  help: '`--help`',
  check: `\`check\`, ${RULES} rules`,
  run: '`run --rule`, nothing to do',
  runAll: `\`run --all\`, ${RULES} rules, nothing to do`,
};

export interface StartupCell {
  contender: string;
  measurement: Measurement;
  /** Wall time of each run, in ms, in the order run. */
  ms: number[];
  median: number;
  p90: number;
}

export interface StartupResult {
  runs: number;
  rules: number;
  node: string;
  /** 1-minute load average before and after (2 cores: above 2 means the runs waited for a CPU). */
  load: { before: number; after: number };
  cells: StartupCell[];
  /** `node -e ''`, and each of IMPORTS imported alone in a fresh process: median ms over the runs. */
  nodeAlone: number;
  imports: { module: string; median: number }[];
  /** Why a contender is missing, if one is. */
  notes: string[];
}

interface Contender {
  name: string;
  key: string;
  /** `node` arguments before the command's own. */
  entry: string[];
  config: string;
}

/** A young row per day, so no rule finds anything expired: `run` has nothing to do. */
async function createTables(pool: pg.Pool): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await pool.query(`CREATE SCHEMA ${SCHEMA}`);
  for (let t = 0; t < RULES; t++) {
    await pool.query(
      `CREATE TABLE ${SCHEMA}.t${t} AS
       SELECT g AS id, now() - (g % 20) * interval '1 hour' AS created_at, 'user' || g || '@example.com' AS email
         FROM generate_series(1, ${ROWS_PER_TABLE}) g`,
    );
    await pool.query(`ALTER TABLE ${SCHEMA}.t${t} ADD PRIMARY KEY (id)`);
    await pool.query(`CREATE INDEX ON ${SCHEMA}.t${t} (created_at)`);
  }
}

function writeConfig(dir: string, key: string, databaseUrl: string, redisUrl: string): string {
  const file = join(dir, `startup-${key}.yaml`);
  const rules = Array.from({ length: RULES }, (_, t) => ({
    id: `rule-${t}`,
    source: `benchmark rule ${t}`,
    store: 'app',
    table: `${SCHEMA}.t${t}`,
    anchor: 'created_at',
    retain: `P${30 + t}D`,
    action: 'delete',
    schedule: 'manual',
  }));
  writeFileSync(
    file,
    stringify({
      timezone: 'UTC',
      redis: redisUrl,
      state: databaseUrl,
      stateSchema: `${SCHEMA}_state_${key}`,
      queuePrefix: `${SCHEMA}_${key}`,
      stores: { app: { kind: 'postgres', url: databaseUrl } },
      rules,
    }),
  );
  return file;
}

/** The tree of BASELINE_COMMIT under `dir`, with this checkout's node_modules; null (and why) where git cannot give it. */
function baselineTree(dir: string): { root: string } | { why: string } {
  const root = join(dir, `baseline-${BASELINE_COMMIT}`);
  if (existsSync(join(root, 'scripts', 'retention.mjs'))) return { root };
  try {
    mkdirSync(root, { recursive: true });
    // Read-only on the repository: no worktree, no checkout.
    const tar = execFileSync('git', ['archive', '--format=tar', BASELINE_COMMIT], { cwd: ROOT, maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', root], { input: tar });
    symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'), 'dir');
    return { root };
  } catch (error) {
    return { why: `before issue 8 (${BASELINE_COMMIT}) left out: git could not give its files (${(error as Error).message.split('\n')[0]})` };
  }
}

interface Outcome {
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

function time(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ ms: performance.now() - started, code, stdout, stderr }));
  });
}

/** ms to import `module` in a fresh process, measured inside it (node's own start left out), resolved from this checkout. */
async function importMs(module: string, env: NodeJS.ProcessEnv): Promise<number> {
  const script = `const t = performance.now(); await import(${JSON.stringify(module)}); process.stdout.write(String(performance.now() - t));`;
  const o = await time(['--input-type=module', '-e', script], env);
  if (o.code !== 0) throw new Error(`bench-startup: importing ${module} failed:\n${o.stderr.slice(0, 400)}`);
  return Number(o.stdout);
}

const ARGS: Record<Measurement, (config: string) => string[]> = {
  help: () => ['--help'],
  check: (config) => ['check', '--config', config],
  run: (config) => ['run', '--rule', 'rule-0', '--json', '--actor', 'bench-startup', '--config', config],
  runAll: (config) => ['run', '--all', '--json', '--actor', 'bench-startup', '--config', config],
};

/** A run that did not do what it is timed for is an error, not a number. */
function expectDone(c: Contender, m: Measurement, o: Outcome): void {
  const fail = (what: string) => new Error(`bench-startup: ${c.name}, ${m}: ${what} (exit ${o.code}):\n${(o.stderr || o.stdout).slice(0, 800)}`);
  if (o.code !== 0) throw fail('failed');
  if (m === 'help' && !o.stdout.includes('Commands:')) throw fail('printed no command list');
  if (m === 'check' && !o.stdout.includes(`ok (${RULES} rules`)) throw fail('did not say ok');
  if (m === 'run' || m === 'runAll') {
    const rules = (JSON.parse(o.stdout) as { rules: { affected: number; status: string }[] }).rules;
    const expected = m === 'run' ? 1 : RULES;
    if (rules.length !== expected || rules.some((r) => r.affected !== 0 || r.status !== 'done')) throw fail(`did something else than nothing: ${o.stdout.slice(0, 300)}`);
  }
}

export async function benchStartup(opts: { databaseUrl: string; dir: string; redisUrl?: string; runs?: number; log?: (line: string) => void }): Promise<StartupResult> {
  const runs = Math.max(10, opts.runs ?? 10);
  const redisUrl = opts.redisUrl ?? process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const log = opts.log ?? (() => undefined);
  const env: NodeJS.ProcessEnv = { ...process.env, RETENTION_AUDIT_KEY: AUDIT_KEY };
  delete env.RETENTION_CONFIG;
  const notes: string[] = [];
  const contenders: Contender[] = [];
  const built = builtCli(log);
  contenders.push({ name: 'built (dist/)', key: 'built', entry: [built], config: '' });
  contenders.push({ name: 'tsx, this checkout', key: 'tsx', entry: [join(ROOT, 'scripts', 'retention.mjs')], config: '' });
  const baseline = baselineTree(opts.dir);
  if ('root' in baseline) contenders.push({ name: `tsx, before issue 8 (${BASELINE_COMMIT})`, key: 'before', entry: [join(baseline.root, 'scripts', 'retention.mjs')], config: '' });
  else notes.push(baseline.why);
  for (const c of contenders) c.config = writeConfig(opts.dir, c.key, opts.databaseUrl, redisUrl);

  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 2 });
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const cleanup = async () => {
    await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
    for (const c of contenders) {
      await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA}_state_${c.key} CASCADE`);
      await deleteMatching(redis, `${SCHEMA}_${c.key}:*`);
    }
  };
  const before = loadavg()[0]!;
  try {
    await cleanup();
    await createTables(pool);
    // Not timed: each contender's first run creates its state schema (migrations).
    for (const c of contenders) expectDone(c, 'runAll', await time([...c.entry, ...ARGS.runAll(c.config)], env));
    const cells = new Map<string, StartupCell>();
    for (let round = 0; round < runs; round++) {
      for (const m of MEASUREMENTS) {
        for (const c of contenders) {
          const outcome = await time([...c.entry, ...ARGS[m](c.config)], env);
          expectDone(c, m, outcome);
          const key = `${c.key}|${m}`;
          const cell = cells.get(key) ?? { contender: c.name, measurement: m, ms: [], median: NaN, p90: NaN };
          cell.ms.push(outcome.ms);
          cells.set(key, cell);
        }
      }
      log(`bench-startup: round ${round + 1}/${runs}`);
    }
    for (const cell of cells.values()) {
      cell.median = percentile(cell.ms, 50);
      cell.p90 = percentile(cell.ms, 90);
    }
    const alone: number[] = [];
    const imports = new Map<string, number[]>(IMPORTS.map((m) => [m, []]));
    for (let round = 0; round < runs; round++) {
      alone.push((await time(['-e', ''], env)).ms);
      for (const m of IMPORTS) imports.get(m)!.push(await importMs(m, env));
    }
    return {
      runs,
      rules: RULES,
      node: process.version,
      load: { before, after: loadavg()[0]! },
      cells: [...cells.values()],
      nodeAlone: percentile(alone, 50),
      imports: [...imports].map(([module, ms]) => ({ module, median: percentile(ms, 50) })),
      notes,
    };
  } finally {
    await cleanup().catch(() => undefined);
    await pool.end();
    redis.disconnect();
  }
}

/** The Markdown section: one row per measurement, a median and p90 column pair per contender. */
export function renderStartup(r: StartupResult): string {
  const contenders = [...new Set(r.cells.map((c) => c.contender))];
  const cell = (contender: string, m: Measurement) => r.cells.find((c) => c.contender === contender && c.measurement === m);
  const ms = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '-' : `${Math.round(n)} ms`);
  const built = contenders[0]!;
  const target = (m: Measurement) => {
    const limit = STARTUP_TARGETS_MS[m];
    const median = cell(built, m)?.median;
    if (limit === null) return 'none';
    return `<= ${limit} ms: ${median === undefined ? '-' : median <= limit ? 'met' : '**missed**'}`;
  };
  const header = `| command | ${contenders.map((c) => `${c} median | p90`).join(' | ')} | target (built, median) |`;
  const rule = `|---|${contenders.map(() => '---:|---:').join('|')}|---|`;
  const rows = MEASUREMENTS.map(
    (m) => `| ${LABEL[m]} | ${contenders.map((c) => `${ms(cell(c, m)?.median)} | ${ms(cell(c, m)?.p90)}`).join(' | ')} | ${target(m)} |`,
  );
  return [
    `Wall time of a \`retention\` process from spawn to exit, ${r.runs} runs of each (median and p90), contenders in turns; Node ${r.node}, 1-minute load average ${r.load.before.toFixed(1)} before and ${r.load.after.toFixed(1)} after.`,
    '',
    header,
    rule,
    ...rows,
    ...(r.notes.length > 0 ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
    '',
    `Where the time goes: \`node -e ''\` takes ${ms(r.nodeAlone)}; importing a package alone, in a fresh process (median): ` +
      r.imports.map((i) => `${i.module} ${ms(i.median)}`).join(', ') +
      '. `--help` loads commander only; `check` of a PostgreSQL config zod, yaml, luxon, pg and ioredis; `run` bullmq (with ioredis) on top; mysql2 and the AWS SDK only for a config with such a store.',
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'bench-startup-'));
  const runsArg = process.argv.indexOf('--runs');
  try {
    const result = await benchStartup({
      databaseUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
      dir,
      ...(runsArg === -1 ? {} : { runs: Number(process.argv[runsArg + 1]) }),
      log: (line) => console.error(line),
    });
    console.log(`## Start-up\n\n${renderStartup(result)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
