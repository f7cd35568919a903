import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import type { PeopleAuditEntry } from '../../src/audit/audit-entry.js';
import { addHold } from '../../src/executor/place-hold.js';
import { openRequest } from '../../src/executor/open-request.js';
import { processRequest } from '../../src/executor/process-request.js';
import type { Config } from '../../src/policy/config.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import { connectRuntime, openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { DATABASE_URL, REDIS_URL, TEST_AUDIT_KEY } from '../helpers/test-env.js';

/**
 * Replay after a backup restore, for real: a database of its own with an app schema, a
 * `pg_dump` of that schema, an erasure and a sweep after it, a `pg_restore` that brings
 * the person and the expired rows back (the state schema is not in the dump and keeps the
 * ledger), then `retention replay --since <backup time>`.
 */

const execFileP = promisify(execFile);
const APP = 'app';
/** The person erased, with LIKE metacharacters, beside a person whose id they would match as a pattern. */
const ALICE = 'alice%_@example.com';
const ALIKE = 'aliceXY@example.com';
const BOB = 'bob@example.com';

const RULES = [
  { id: 'users', table: `${APP}.users`, key: 'id', anchor: 'closed_at', retain: 'P1Y', action: 'delete', subject: 'email', cascades: 'allow' },
  { id: 'orders', table: `${APP}.orders`, key: 'id', anchor: 'created_at', retain: 'P1Y', action: 'delete', subject: 'user_email' },
];

let id: string;
let dbName: string;
let dbUrl: string;
let admin: pg.Pool;
let db: pg.Pool;
let files: ReturnType<typeof tempDir>;
let runtimes: Runtime[];
let failed: boolean;
/** State schemas made in the shared test database (the held test keeps its state there). */
let outsideStates: string[];

beforeEach(async () => {
  id = randomBytes(5).toString('hex');
  dbName = `replay_${id}`;
  admin = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  // DROP DATABASE ... WITH (FORCE) ends the connections still open to it; an idle pooled
  // client ended that way reports it on its pool, which must not crash the test process.
  admin.on('error', () => undefined);
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${dbName}`;
  dbUrl = url.toString();
  db = new pg.Pool({ connectionString: dbUrl, max: 2 });
  db.on('error', () => undefined);
  files = tempDir();
  runtimes = [];
  outsideStates = [];
  failed = false;
  onTestFailed(() => {
    failed = true;
  });
  await db.query(`
    CREATE SCHEMA ${APP};
    CREATE TABLE ${APP}.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, closed_at timestamptz);
    CREATE TABLE ${APP}.orders (id bigserial PRIMARY KEY, user_email text NOT NULL REFERENCES ${APP}.users (email) ON DELETE CASCADE, created_at timestamptz NOT NULL);
  `);
  for (const email of [ALICE, ALIKE, BOB]) await db.query(`INSERT INTO ${APP}.users (email) VALUES ($1)`, [email]);
  // Recent orders for everyone; two expired ones each for ALIKE and BOB (the sweep's).
  await db.query(`INSERT INTO ${APP}.orders (user_email, created_at) SELECT e, now() - interval '1 day' FROM unnest($1::text[]) e, generate_series(1, 3)`, [[ALICE, ALIKE, BOB]]);
  await db.query(`INSERT INTO ${APP}.orders (user_email, created_at) SELECT e, now() - interval '3 years' FROM unnest($1::text[]) e, generate_series(1, 2)`, [[ALIKE, BOB]]);
});

afterEach(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeysMatching(redis, `replay_${id}:*`);
  } finally {
    redis.disconnect();
  }
  await db.end();
  files.remove();
  if (failed) {
    console.error(`test failed: kept database ${dbName} (and state schemas ${outsideStates.join(', ') || 'none'} in ${DATABASE_URL}) for debugging`);
  } else {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    for (const schema of outsideStates) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
  await admin.end();
});

/** The config: the app store in the test's database, the state there too unless `state` says where. */
function setup(rules: readonly Record<string, unknown>[] = RULES, state: { url: string; schema: string } = { url: dbUrl, schema: 'retention' }) {
  const yaml = stringify({
    timezone: 'UTC',
    redis: REDIS_URL,
    state: state.url,
    stateSchema: state.schema,
    queuePrefix: `replay_${id}`,
    stores: { app: { kind: 'postgres', url: dbUrl } },
    limits: { maxFraction: 1 },
    requests: { due: 'P30D' },
    rules: rules.map((r) => ({ store: 'app', ...r })),
  });
  const env = { RETENTION_AUDIT_KEY: TEST_AUDIT_KEY };
  const config: Config = parseConfig(yaml, `replay-${id}.yaml`, env, STORE_KINDS);
  return { config, file: files.write(`replay-${id}-${randomBytes(3).toString('hex')}.yaml`, yaml), stateSchema: state.schema };
}

async function runtimeFor(config: Config): Promise<Runtime> {
  const runtime = await openRuntime(config, { RETENTION_AUDIT_KEY: TEST_AUDIT_KEY });
  runtimes.push(runtime);
  await connectRuntime(runtime);
  return runtime;
}

/** The backup: the app schema only, as an operator's `pg_dump -n` takes it. */
async function backup(): Promise<string> {
  const dump = join(files.dir, 'app.dump');
  await execFileP('/usr/bin/pg_dump', ['-Fc', '-n', APP, '-f', dump, '-d', dbUrl]);
  return dump;
}

async function restore(dump: string): Promise<void> {
  await execFileP('/usr/bin/pg_restore', ['--clean', '--if-exists', '-n', APP, '-d', dbUrl, dump]);
}

/** Rows by person: all their orders, and the expired ones. */
async function rowsOf(email: string): Promise<{ users: number; orders: number; expired: number }> {
  const { rows } = await db.query<{ users: string; orders: string; expired: string }>(
    `SELECT (SELECT count(*) FROM ${APP}.users WHERE email = $1) AS users,
            (SELECT count(*) FROM ${APP}.orders WHERE user_email = $1) AS orders,
            (SELECT count(*) FROM ${APP}.orders WHERE user_email = $1 AND created_at < now() - interval '1 year') AS expired`,
    [email],
  );
  const r = rows[0]!;
  return { users: Number(r.users), orders: Number(r.orders), expired: Number(r.expired) };
}

/** Erases ALICE (request opened and completed) and sweeps the orders rule: what happened after the backup. */
async function eraseAndSweep(runtime: Runtime): Promise<void> {
  const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
  const progress = await processRequest(runtime, request.id, 'test');
  expect(progress.status === 'waiting' ? progress.reason : progress.status).toBe('completed');
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  try {
    const { swept } = await runSweeps(runtime, runtime.config.rules.filter((r) => r.id === 'orders'), { connection: redis, dryRun: false, actor: 'test', concurrency: 2 });
    expect(swept[0]!.sweep.rowsAffected).toBe(4);
  } finally {
    redis.disconnect();
  }
  expect(await rowsOf(ALICE)).toEqual({ users: 0, orders: 0, expired: 0 });
  expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 3, expired: 0 });
}

async function dbNow(runtime: Runtime): Promise<string> {
  const { rows } = await runtime.state.db.pool.query<{ now: Date }>('SELECT now() AS now');
  return rows[0]!.now.toISOString();
}

async function auditEntries(runtime: Runtime): Promise<PeopleAuditEntry[]> {
  const { rows } = await runtime.state.db.pool.query<{ entry: PeopleAuditEntry }>(`SELECT entry FROM ${runtime.state.table('audit_log')} ORDER BY seq`);
  return rows.map((r) => r.entry);
}

interface ReplayJson {
  since: string;
  dryRun: boolean;
  rules: {
    id: string;
    erasure: { status: string; subjects: number; found: number; rows: number; held: { requestId: string; reason: string }[]; left: number } | null;
    sweep: { status: string; affected: number; sweepId?: string } | null;
  }[];
}

const byId = (out: ReplayJson) => Object.fromEntries(out.rules.map((r) => [r.id, r]));

describe('retention replay after a backup restore', () => {
  it('erases again the person erased after the backup, sweeps the expired rows again, leaves everyone else, and audits it', async () => {
    const { config, file } = setup();
    const runtime = await runtimeFor(config);
    const since = await dbNow(runtime);
    const dump = await backup();
    await eraseAndSweep(runtime);

    await restore(dump);
    // The restore brought back the person and the rows the sweep had deleted; the ledger stayed.
    expect(await rowsOf(ALICE)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect(await rowsOf(ALIKE)).toEqual({ users: 1, orders: 5, expired: 2 });
    expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 5, expired: 2 });

    // A dry run counts with the person's selection and changes nothing.
    const dry = await runMain(['replay', '--config', file, '--since', since, '--dry-run', '--json']);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const counted = byId(JSON.parse(dry.stdout) as ReplayJson);
    expect(counted.users!.erasure).toMatchObject({ status: 'replayed', subjects: 1, found: 1, rows: 1, held: [] });
    expect(counted.orders!.erasure).toMatchObject({ status: 'replayed', subjects: 1, found: 1, rows: 3 });
    expect(counted.orders!.sweep).toMatchObject({ status: 'done', affected: 4 });
    expect(await rowsOf(ALICE)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 5, expired: 2 });
    expect((await auditEntries(runtime)).filter((e) => e.event === 'replayed')).toEqual([]);

    const run = await runMain(['replay', '--config', file, '--since', since, '--json', '--actor', 'ops:restore']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as ReplayJson;
    expect(out).toMatchObject({ since, dryRun: false });
    const rules = byId(out);
    expect(rules.users!.erasure).toMatchObject({ status: 'replayed', found: 1, rows: 1, left: 0 });
    expect(rules.orders!.erasure).toMatchObject({ status: 'replayed', found: 1, rows: 3, left: 0 });
    expect(rules.orders!.sweep).toMatchObject({ status: 'done', affected: 4 });
    // The users rule swept nothing since the backup: not swept again.
    expect(rules.users!.sweep).toBeNull();

    expect(await rowsOf(ALICE)).toEqual({ users: 0, orders: 0, expired: 0 });
    expect(await rowsOf(ALIKE)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 3, expired: 0 });

    const entries = await auditEntries(runtime);
    const replayed = entries.filter((e) => e.event === 'replayed');
    expect(replayed.filter((e) => e.replay?.of === 'erasure').map((e) => [e.ruleId, e.rows])).toEqual([
      ['orders', 3],
      ['users', 1],
    ]);
    const request = entries.find((e) => e.event === 'request-opened')!;
    for (const e of replayed.filter((x) => x.replay?.of === 'erasure')) {
      expect(e).toMatchObject({ subject: request.subject, requestId: request.requestId, actor: 'ops:restore', replay: { since } });
    }
    expect(replayed.filter((e) => e.replay?.of === 'sweep')).toEqual([
      expect.objectContaining({ ruleId: 'orders', rows: 4, sweepId: rules.orders!.sweep!.sweepId, replay: { of: 'sweep', since } }),
    ]);
    expect(await verifyAudit(runtime.state)).toMatchObject({ ok: true });
    // Matched by digest: the person's id is nowhere in the audit log.
    expect(JSON.stringify(entries)).not.toContain('alice');

    // Replay again: nothing of the person is left to find, nothing expired to sweep.
    const again = byId(JSON.parse((await runMain(['replay', '--config', file, '--since', since, '--json'])).stdout) as ReplayJson);
    expect(again.users!.erasure).toMatchObject({ found: 0, rows: 0 });
    expect(again.orders!.sweep).toMatchObject({ affected: 0 });
  });

  it('keeps a person on legal hold (state in another database), reports the hold, and erases the rest', async () => {
    const stateSchema = `replay_${id}_state`;
    outsideStates.push(stateSchema);
    const { config, file } = setup(RULES, { url: DATABASE_URL, schema: stateSchema });
    const runtime = await runtimeFor(config);
    expect(runtime.storeFor(config.rules[0]!).sharesTransactionsWith(config.state)).toBe(false);
    const since = await dbNow(runtime);
    const dump = await backup();
    await eraseAndSweep(runtime);
    await restore(dump);
    await addHold(runtime, { subject: ALICE, reason: 'litigation 2026-17', actor: 'legal:kim' });

    // A dry run tells the hold too, rather than count the held person's items as would-be erased.
    const dry = byId(JSON.parse((await runMain(['replay', '--config', file, '--since', since, '--json', '--dry-run'])).stdout) as ReplayJson);
    for (const rule of ['users', 'orders']) {
      expect(dry[rule]!.erasure).toMatchObject({ found: 1, rows: 0, held: [{ reason: `the subject is on legal hold in rule ${rule}` }] });
    }

    const run = await runMain(['replay', '--config', file, '--since', since, '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const rules = byId(JSON.parse(run.stdout) as ReplayJson);
    for (const rule of ['users', 'orders']) {
      expect(rules[rule]!.erasure).toMatchObject({ found: 1, rows: 0, held: [{ reason: `the subject is on legal hold in rule ${rule}` }] });
    }
    // The sweep went through, sparing nobody's unexpired rows; the held person had none expired.
    expect(rules.orders!.sweep).toMatchObject({ status: 'done', affected: 4 });
    expect(await rowsOf(ALICE)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect((await auditEntries(runtime)).filter((e) => e.event === 'replayed' && e.replay?.of === 'erasure')).toEqual([]);

    const text = await runMain(['replay', '--config', file, '--since', since]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/users: a person erased by request req-\S+ is back and kept: the subject is on legal hold in rule users/);
  });

  it('replays nothing with --since after the erasure and the sweep', async () => {
    const { config, file } = setup();
    const runtime = await runtimeFor(config);
    const dump = await backup();
    await eraseAndSweep(runtime);
    const since = await dbNow(runtime);
    await restore(dump);

    const run = await runMain(['replay', '--config', file, '--since', since]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/nothing to replay/);
    expect(await rowsOf(ALICE)).toEqual({ users: 1, orders: 3, expired: 0 });
    expect(await rowsOf(BOB)).toEqual({ users: 1, orders: 5, expired: 2 });
    expect((await auditEntries(runtime)).filter((e) => e.event === 'replayed')).toEqual([]);
  });

  it('refuses to start without the audit key, which the digests in the ledger need, touching nothing', async () => {
    const { file } = setup();
    const saved = process.env.RETENTION_AUDIT_KEY;
    process.env.RETENTION_AUDIT_KEY = '';
    try {
      const run = await runMain(['replay', '--config', file, '--since', '2026-01-01']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/RETENTION_AUDIT_KEY is not set/);
    } finally {
      process.env.RETENTION_AUDIT_KEY = saved;
    }
    const { rows } = await db.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'retention'`);
    expect(rows).toEqual([]);
  });

  it('reports a rule of the ledger that left the config instead of guessing, and fails', async () => {
    const { config } = setup();
    const runtime = await runtimeFor(config);
    const since = await dbNow(runtime);
    const dump = await backup();
    await eraseAndSweep(runtime);
    await restore(dump);
    // The operator removed the orders rule meanwhile: its rows of the person cannot be told.
    const { file } = setup(RULES.filter((r) => r.id === 'users'));

    const run = await runMain(['replay', '--config', file, '--since', since, '--json']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/rule orders: 1 person\(s\) erased since could not be looked for: rule orders is no longer in/);
    expect(run.stderr).toMatch(/rule orders: swept since but no longer in/);
    const rules = byId(JSON.parse(run.stdout) as ReplayJson);
    expect(rules.orders).toMatchObject({ erasure: { status: 'missing', subjects: 1, rows: 0 }, sweep: { status: 'missing' } });
    // The users rule still ran (its deletes cascade into the orders, through the foreign key).
    expect(rules.users!.erasure).toMatchObject({ status: 'replayed', found: 1, rows: 1, left: 0 });
    expect(await rowsOf(ALICE)).toEqual({ users: 0, orders: 0, expired: 0 });
  });
});
