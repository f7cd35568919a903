import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { MYSQL_URL } from '../stores/mysql-env.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';
import { lines, spawnCli, tempDir, type CliOutcome } from './cli-harness.js';

/**
 * The built CLI, as `npm ci` builds it (`prepare`: scripts/build.mjs) and package.json's
 * `bin` installs it: compiled here into a temporary directory laid out as an installed
 * package (package.json beside dist/, and a node_modules without the devDependencies, so
 * without tsx and typescript), then run as a user runs it, from that directory, on the real
 * services. The other CLI tests run the sources through tsx (scripts/retention.mjs); this
 * file is what says the JavaScript that ships works, jobs and migrations included.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string>; devDependencies: Record<string, string> };
/** Building takes about a second (esbuild), longer while other tests run. */
const BUILD_TIMEOUT_MS = 180_000;

let installed: string;
let bin: string;

/** node_modules as a production install has it: every package except the devDependencies, linked from the checkout's. */
function productionModules(into: string): void {
  const dev = new Set(Object.keys(PACKAGE.devDependencies));
  const from = join(ROOT, 'node_modules');
  mkdirSync(into);
  for (const entry of readdirSync(from)) {
    if (entry.startsWith('.') || dev.has(entry)) continue;
    if (!entry.startsWith('@')) {
      symlinkSync(join(from, entry), join(into, entry), 'dir');
      continue;
    }
    // A scope: its packages one by one (@types/* are all dev; @aws-sdk/* are not).
    const kept = readdirSync(join(from, entry)).filter((name) => !dev.has(`${entry}/${name}`));
    if (kept.length === 0) continue;
    mkdirSync(join(into, entry));
    for (const name of kept) symlinkSync(join(from, entry, name), join(into, entry, name), 'dir');
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

beforeAll(() => {
  installed = mkdtempSync(join(tmpdir(), 'retention-built-'));
  const build = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs'), join(installed, 'dist')], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`scripts/build.mjs failed (exit ${build.status}):\n${build.stdout}${build.stderr}`);
  copyFileSync(join(ROOT, 'package.json'), join(installed, 'package.json'));
  productionModules(join(installed, 'node_modules'));
  bin = join(installed, PACKAGE.bin.retention!);
}, BUILD_TIMEOUT_MS);
afterAll(() => {
  if (installed) rmSync(installed, { recursive: true, force: true });
});

/** The built bin, from the install's directory, with no loader: NODE_OPTIONS emptied so nothing (tsx) is preloaded. */
const built = (args: readonly string[], env: Record<string, string> = {}): Promise<CliOutcome> =>
  spawnCli(args, { NODE_OPTIONS: '', ...env }, { entry: bin, cwd: installed });

describe('the build', () => {
  it('holds the bin package.json names, every job and every migration, and nothing that loads tsx', () => {
    expect(PACKAGE.bin.retention).toBe('dist/src/cli/bin.js');
    const jobs = readdirSync(join(ROOT, 'jobs')).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, '.js'));
    expect(readdirSync(join(installed, 'dist', 'jobs')).filter((f) => f.endsWith('.js')).sort()).toEqual(jobs.sort());
    const migrations = readdirSync(join(ROOT, 'src', 'state', 'migrations')).filter((f) => f.endsWith('.sql'));
    expect(readdirSync(join(installed, 'dist', 'src', 'state', 'migrations')).sort()).toEqual(migrations.sort());
    // No import of tsx or typescript, and no specifier ending in .ts, in any file built.
    const loadsTypeScript = /(from|import\()\s*'(tsx|typescript)[/']|(from|import\()\s*'[^']+\.ts'/;
    expect(filesUnder(join(installed, 'dist')).filter((f) => loadsTypeScript.test(readFileSync(f, 'utf8')))).toEqual([]);
  });

  it('prints its version and its commands', async () => {
    const version = await built(['--version']);
    expect(version).toMatchObject({ code: 0, stderr: '' });
    expect(version.stdout.trim()).toBe(PACKAGE.version);
    const help = await built(['--help']);
    expect(help.code).toBe(0);
    for (const command of ['check', 'plan', 'run', 'worker', 'sweeps', 'audit', 'erase', 'requests', 'receipt', 'hold', 'replay', 'draft', 'coverage']) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    // A command's own help defines it in full (its module imported only then).
    const run = await built(['run', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--dry-run');
  });
});

/** One output of the bundle, as scripts/build.mjs records it in dist/meta.json. */
interface BuiltOutput {
  entryPoint: string | null;
  imports: { path: string; kind: string }[];
  packages: string[];
}

/**
 * The packages an output of the bundle loads before it runs: those whose code it and every
 * output it imports statically hold, or import from node_modules (a dynamic `import()` is
 * where loading is put off to, and is not followed).
 */
function packagesLoadedBy(meta: Record<string, BuiltOutput>, output: string, seen = new Set<string>(), found = new Set<string>()): Set<string> {
  if (seen.has(output)) return found;
  seen.add(output);
  const entry = meta[output];
  if (!entry) throw new Error(`${output} is not an output of the build`);
  entry.packages.forEach((p) => found.add(p));
  for (const i of entry.imports) if (i.kind === 'import-statement') packagesLoadedBy(meta, i.path, seen, found);
  return found;
}

describe('start-up: what each command loads before it runs', () => {
  const meta = () => JSON.parse(readFileSync(join(installed, 'dist', 'meta.json'), 'utf8')) as Record<string, BuiltOutput>;
  /** The output a command's module was split into (it is imported when its command runs). */
  const commandOutput = (m: Record<string, BuiltOutput>, source: string) => {
    const found = Object.entries(m).find(([, o]) => o.entryPoint === source);
    if (!found) throw new Error(`no output of the build is the split point of ${source}`);
    return found[0];
  };

  it('--help loads commander only: every command module is imported when its command runs', () => {
    expect([...packagesLoadedBy(meta(), 'src/cli/bin.js')]).toEqual(['commander']);
  });

  it('check loads the config and the drivers of what it checks, not the queue or the stores a config may not use', () => {
    const m = meta();
    const loaded = packagesLoadedBy(m, commandOutput(m, 'src/cli/check.ts'));
    expect(['bullmq', 'mysql2', '@aws-sdk/client-s3', 'cli-progress', 'pino'].filter((p) => loaded.has(p))).toEqual([]);
    // The store kinds load their drivers when a store of theirs is made.
    const postgres = packagesLoadedBy(m, commandOutput(m, 'src/stores/postgres/postgres-store.ts'));
    expect(postgres.has('pg')).toBe(true);
    expect(packagesLoadedBy(m, commandOutput(m, 'src/stores/s3/connect.ts')).has('@aws-sdk/client-s3')).toBe(true);
  });

  it('run loads the queue', () => {
    const m = meta();
    expect(packagesLoadedBy(m, commandOutput(m, 'src/cli/run.ts')).has('bullmq')).toBe(true);
  });
});

describe('the built CLI on PostgreSQL', () => {
  let env: TestEnv;
  let files: ReturnType<typeof tempDir>;
  const EXPIRED = 30;
  const YOUNG = 20;

  beforeEach(async () => {
    env = await createTestEnv();
    files = tempDir();
    // Ids 1-30 are 400 days old, 31-50 a day old; the rule keeps a year.
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigint PRIMARY KEY, at timestamptz NOT NULL, note text)`);
    await env.sql(
      `INSERT INTO ${env.schema}.events SELECT g, now() - CASE WHEN g <= ${EXPIRED} THEN interval '400 days' ELSE interval '1 day' END, 'n' || g FROM generate_series(1, ${EXPIRED + YOUNG}) g`,
    );
  });
  afterEach(async () => {
    files.remove();
    await env.cleanup();
  });

  it('checks, plans and sweeps a config: exactly the expired rows go, the audit log verifies, a second run has nothing to do', async () => {
    const file = files.write('retention.yaml', env.configYaml([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1Y', action: 'delete' }]));

    const check = await built(['check', '--config', file]);
    expect(check).toMatchObject({ code: 0, stderr: '' });
    expect(check.stdout).toContain(`${file}: ok (1 rule, 1 store, time zone UTC)`);

    const plan = await built(['plan', '--json', '--config', file]);
    expect(plan.code).toBe(0);
    expect((JSON.parse(plan.stdout) as { rules: { id: string; affected: number }[] }).rules).toMatchObject([{ id: 'events', affected: EXPIRED }]);

    const run = await built(['run', '--all', '--json', '--config', file]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect((JSON.parse(run.stdout) as { rules: unknown[] }).rules).toMatchObject([{ id: 'events', affected: EXPIRED, status: 'done' }]);
    const left = await env.sql<{ id: string }>(`SELECT id FROM ${env.schema}.events ORDER BY id`);
    expect(left.map((r) => Number(r.id))).toEqual(Array.from({ length: YOUNG }, (_, i) => EXPIRED + 1 + i));

    // The state schema was made from the migrations the build copied, every one of them.
    const migrations = readdirSync(join(ROOT, 'src', 'state', 'migrations')).filter((f) => f.endsWith('.sql')).length;
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${env.stateSchema}.migrations`)).toEqual([{ n: migrations }]);

    const verify = await built(['audit', 'verify', '--config', file]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^audit log intact: \d+ entries, head [0-9a-f]+$/m);

    const again = await built(['run', '--all', '--json', '--config', file]);
    expect(again.code).toBe(0);
    expect((JSON.parse(again.stdout) as { rules: unknown[] }).rules).toMatchObject([{ id: 'events', affected: 0, status: 'done' }]);
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${env.schema}.events`)).toEqual([{ n: YOUNG }]);
  });

  it('reports a user mistake as the sources do: one line naming the file and field, exit 2, nothing touched', async () => {
    const file = files.write('retention.yaml', env.configYaml([{ id: 'events', table: 'events', anchor: 'at', retain: '6 months', action: 'delete' }]));
    const outcome = await built(['run', '--all', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(lines(outcome.stderr)).toEqual([expect.stringContaining(`retention: ${file}: rules[0].retain: "6 months" is not an ISO-8601 duration`)]);
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${env.schema}.events`)).toEqual([{ n: EXPIRED + YOUNG }]);
  });
});

/**
 * `npm run demo` with the built CLI, whole: every CLI step of the demo (check, plan, run
 * --all with confirmations, audit verify and list, erase, hold, receipt) against its own
 * count of every number. About 30 s (110,000 rows, MariaDB, S3, Redis). Its own queue
 * prefix (and so photo directory), MariaDB database and the test database keep it apart
 * from a demo someone runs meanwhile; the demo's schema names are fixed (config/retention.yaml),
 * so two test runs on one database take turns, under an advisory lock.
 */
describe('the demo, run with the built CLI', () => {
  const id = randomBytes(4).toString('hex');
  const prefix = `t-${id}-demo`;
  const mysqlDatabase = `retention_demo_t_${id}`;
  /** Held while this file's demo runs: the demo drops and rebuilds schemas retention_demo and retention_demo_state. */
  const DEMO_LOCK = 'retention: the demo in the test database';
  let lock: pg.Client;

  beforeAll(async () => {
    lock = new pg.Client({ connectionString: DATABASE_URL });
    await lock.connect();
    await lock.query('SELECT pg_advisory_lock(hashtext($1))', [DEMO_LOCK]);
  }, 300_000);
  afterAll(async () => {
    // What the demo leaves for a user to look around in, here removed: its schemas (in the
    // test database), queue and session keys, photo directories, MariaDB database.
    await lock.query('DROP SCHEMA IF EXISTS retention_demo CASCADE');
    await lock.query('DROP SCHEMA IF EXISTS retention_demo_state CASCADE');
    await lock.end();
    const redis = new Redis(REDIS_URL);
    await deleteKeysMatching(redis, `${prefix}*`);
    redis.disconnect();
    for (const dir of [`/tmp/${prefix}-photos`, `/tmp/${prefix}-photos-outside`]) rmSync(dir, { recursive: true, force: true });
    const mysql = await createConnection({ uri: MYSQL_URL });
    await mysql.query(`DROP DATABASE IF EXISTS ${mysqlDatabase}`);
    await mysql.end();
  });

  it('finishes with every number agreeing', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'demo.ts'), '--cli', bin], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL,
        REDIS_URL,
        RETENTION_QUEUE_PREFIX: prefix,
        MYSQL_URL: `${MYSQL_URL.replace(/\/$/, '')}/${mysqlDatabase}`,
        RETENTION_AUDIT_KEY: TEST_AUDIT_KEY,
      },
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(stdout).toContain(`The retention commands below run node ${bin}`);
    expect(stdout).toContain('All numbers above agree with the demo');
  }, 300_000);
});
