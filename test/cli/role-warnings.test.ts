import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli, tempDir } from './cli-harness.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * `check` warns when a role retention connects as can do more than sweeping needs (a
 * superuser above all), and the least-privilege role of docs/deploy/retention-role.sql and
 * grants.example.sql, created by running those very files, is warned of nothing and is
 * enough for a real sweep: delete, anonymize and archive rules, their audit entries, and
 * `audit verify`.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Run in this order, as docs/deployment.md says. */
const SQL_FILES = ['docs/deploy/retention-role.sql', 'docs/deploy/grants.example.sql'];
/** The role warnings are on here (test/helpers/role-warnings-setup.ts turns them off for the other tests). */
const WARNINGS_ON = { RETENTION_ROLE_WARNINGS: 'on', REDIS_URL, RETENTION_HMAC_KEY: TEST_HMAC_KEY };

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let roles: string[];

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  roles = [];
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.login_logs (id bigint PRIMARY KEY, user_id bigint NOT NULL, tenant_id int NOT NULL, ip inet, logged_in_at timestamptz NOT NULL);
    CREATE INDEX ON ${s}.login_logs (user_id);
    CREATE TABLE ${s}.accounts (id bigint PRIMARY KEY, name text, email text, phone text, closed_at timestamptz);
    CREATE TABLE ${s}.orders (id bigint PRIMARY KEY, customer text, total numeric(10,2), placed_at timestamptz NOT NULL);
    CREATE TABLE ${s}.orders_archive (LIKE ${s}.orders INCLUDING CONSTRAINTS INCLUDING INDEXES, archived_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE ${s}.id_photos (id bigint PRIMARY KEY, paid_at timestamptz NOT NULL, file_path text);
    INSERT INTO ${s}.id_photos SELECT g, now() - make_interval(days => 100 * g), 'photo-' || g || '.jpg' FROM generate_series(1, 4) g;
    INSERT INTO ${s}.login_logs SELECT g, g % 7, 1 + g % 2, '203.0.113.9', now() - make_interval(days => 10 * g) FROM generate_series(1, 40) g;
    INSERT INTO ${s}.accounts SELECT g, 'name ' || g, 'user' || g || '@example.com', '+1555000' || g, CASE WHEN g % 2 = 0 THEN now() - make_interval(years => 4) END FROM generate_series(1, 10) g;
    INSERT INTO ${s}.orders SELECT g, 'customer ' || g, g * 10.5, now() - make_interval(months => 6 * g) FROM generate_series(1, 8) g;
  `);
  // The files the photo rows own (a files store: they go with their rows, through the outbox).
  mkdirSync(photosRoot());
  for (let g = 1; g <= 4; g++) writeFileSync(join(photosRoot(), `photo-${g}.jpg`), 'jpeg');
});

/** The files store's root, in this test's temporary directory. */
const photosRoot = () => join(files.dir, 'photos');
afterEach(async () => {
  for (const role of roles) {
    await env.sql(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
    await env.sql(`DROP ROLE ${pg.escapeIdentifier(role)}`);
  }
  files.remove();
  await env.cleanup();
});

/** A role of this test's own, dropped (with what it owns and was granted) afterwards. */
async function newRole(suffix: string, attributes = ''): Promise<string> {
  const role = `rt_${env.id}_${suffix}`;
  roles.push(role);
  await env.sql(`CREATE ROLE ${pg.escapeIdentifier(role)} LOGIN ${attributes}`);
  return role;
}

/** DATABASE_URL as `role` (the test server trusts local connections, so no password). */
function urlAs(role: string): string {
  const url = new URL(DATABASE_URL);
  url.username = role;
  url.password = '';
  return url.toString();
}

/** A file of the docs' SQL with its psql variables (`:"name"` identifiers, `:'name'` literals) filled in, as psql -v would. */
function docsSql(file: string, values: Record<string, string>): string {
  return readFileSync(join(ROOT, file), 'utf8').replace(/:(["'])([a-z_]+)\1/g, (_m, quote: string, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`${file} uses :${quote}${name}${quote}, which the test does not set`);
    return quote === '"' ? pg.escapeIdentifier(value) : pg.escapeLiteral(value);
  });
}

/** The rules docs/deploy/grants.example.sql grants for, on this test's tables. */
const RULES = () => [
  { id: 'login-logs-6m', table: 'login_logs', key: 'id', anchor: 'logged_in_at', where: { tenant_id: 1 }, subject: 'user_id', retain: 'P6M', action: 'delete' },
  { id: 'closed-accounts-3y', table: 'accounts', key: 'id', anchor: 'closed_at', retain: 'P3Y', action: 'anonymize', anonymize: { email: 'hmac', phone: 'null' } },
  { id: 'orders-archive-2y', table: 'orders', key: 'id', anchor: 'placed_at', retain: 'P2Y', action: 'archive', archiveTable: `${env.schema}.orders_archive` },
  { id: 'archived-orders-5y', table: 'orders_archive', key: 'id', anchor: 'archived_at', retain: 'P5Y', action: 'delete' },
  { id: 'id-photos-180d', table: 'id_photos', key: 'id', anchor: 'paid_at', retain: 'P180D', action: 'delete', cascade: [{ store: 'photos', path: '{file_path}' }] },
];

/** A config file whose state and store connect as `role` (the test's superuser when null). */
function configAs(role: string | null, rules: Record<string, unknown>[] = RULES()): string {
  const url = role === null ? DATABASE_URL : urlAs(role);
  return files.write('retention.yaml', env.configYaml(rules, { state: url, stores: { app: { kind: 'postgres', url }, photos: { kind: 'files', root: photosRoot() } } }));
}

/** `check`'s warning lines about roles, with the file name taken out. */
const roleWarnings = (stderr: string, file: string): string[] =>
  stderr
    .split('\n')
    .filter((l) => l.includes('connects to database'))
    .map((l) => l.replace(`${file}: `, ''));

const GUIDE = 'docs/deployment.md, "The database role"';

describe('check warns of a role that can do more than sweeping needs', () => {
  it('a superuser: once, at state, even though the store connects as the same role', async () => {
    const file = configAs(null);
    const check = await spawnCli(['check', '--config', file], WARNINGS_ON);
    expect(check.code).toBe(0);
    const role = new URL(DATABASE_URL).username;
    const database = new URL(DATABASE_URL).pathname.slice(1);
    expect(roleWarnings(check.stderr, file)).toEqual([
      `retention: warning: state: connects to database ${database} as ${role}, a superuser: past every privilege and row-level security policy, nothing in the database can stop a wrong rule or a bug from deleting anything. Run retention as a role with only what it needs (${GUIDE})`,
    ]);
    // Silenced on purpose where the superuser is chosen knowingly.
    const quiet = await spawnCli(['check', '--config', file], { ...WARNINGS_ON, RETENTION_ROLE_WARNINGS: 'off' });
    expect(quiet.code).toBe(0);
    expect(roleWarnings(quiet.stderr, file)).toEqual([]);
  });

  it('a member of a superuser role, BYPASSRLS, CREATEROLE, owning the database or a swept table', async () => {
    const database = new URL(DATABASE_URL).pathname.slice(1);
    const member = await newRole('member');
    const admin = await newRole('admin', 'SUPERUSER');
    await env.sql(`GRANT ${pg.escapeIdentifier(admin)} TO ${pg.escapeIdentifier(member)}`);
    const memberFile = configAs(member, []);
    expect(roleWarnings((await spawnCli(['check', '--config', memberFile], WARNINGS_ON)).stderr, memberFile)).toEqual([
      `retention: warning: state: connects to database ${database} as ${member}, a member of the superuser role ${admin} (it can SET ROLE to it): past every privilege and row-level security policy, nothing in the database can stop a wrong rule or a bug from deleting anything. Run retention as a role with only what it needs (${GUIDE})`,
    ]);

    const broad = await newRole('broad', 'BYPASSRLS CREATEROLE');
    await env.sql(`GRANT USAGE ON SCHEMA ${env.schema} TO ${pg.escapeIdentifier(broad)}; ALTER TABLE ${env.schema}.login_logs OWNER TO ${pg.escapeIdentifier(broad)}`);
    const broadFile = configAs(broad, [RULES()[0]!]);
    const broadCheck = await spawnCli(['check', '--config', broadFile], WARNINGS_ON);
    expect(broadCheck.code).toBe(0);
    expect(roleWarnings(broadCheck.stderr, broadFile)).toEqual([
      `retention: warning: state: connects to database ${database} as ${broad}, which has BYPASSRLS: row-level security policies do not apply to it. Run retention as a role without it (${GUIDE})`,
      `retention: warning: state: connects to database ${database} as ${broad}, which has CREATEROLE: it can create roles and grant itself what they hold. Run retention as a role without it (${GUIDE})`,
      `retention: warning: rules[0].table: connects to database ${database} as ${broad}, which owns ${env.schema}.login_logs: it could ALTER, TRUNCATE or DROP the table, and row-level security does not apply to its owner. Grant retention's role SELECT and DELETE on it (UPDATE to anonymize) instead (${GUIDE})`,
    ]);

    // Owning the database: a database of its own, so the test database's owner stays as it is.
    const owner = await newRole('owner');
    const db = `t_${env.id}_owned`;
    await env.sql(`CREATE DATABASE ${db} OWNER ${pg.escapeIdentifier(owner)}`);
    try {
      const url = new URL(urlAs(owner));
      url.pathname = `/${db}`;
      const ownerFile = files.write('owner.yaml', env.configYaml([], { state: url.toString(), stores: {} }));
      expect(roleWarnings((await spawnCli(['check', '--config', ownerFile], WARNINGS_ON)).stderr, ownerFile)).toEqual([
        `retention: warning: state: connects to database ${db} as ${owner}, which owns the database: it can create and drop schemas and change the database's settings. Run retention as a role that does not own it (${GUIDE})`,
      ]);
    } finally {
      await env.sql(`DROP DATABASE ${db}`);
    }
  });
});

describe('the least-privilege role of docs/deploy/retention-role.sql and grants.example.sql', () => {
  /** Runs the docs' SQL for a role of this test, on its schemas. */
  async function createWorkerRole(): Promise<string> {
    const role = `rt_${env.id}_worker`;
    roles.push(role);
    const values = {
      role,
      password: 'unused-the-test-server-trusts-local-connections',
      database: new URL(DATABASE_URL).pathname.slice(1),
      state_schema: env.stateSchema,
      app_schema: env.schema,
    };
    for (const file of SQL_FILES) await env.sql(docsSql(file, values));
    return role;
  }

  it('is warned of nothing, and is enough for a real sweep of delete, anonymize, archive and cascade rules', async () => {
    const role = await createWorkerRole();
    const file = configAs(role);
    const check = await spawnCli(['check', '--config', file], WARNINGS_ON);
    expect(check.stderr).not.toContain('connects to database');
    expect(check.code).toBe(0);

    const run = await spawnCli(['run', '--all', '--config', file], WARNINGS_ON);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const s = env.schema;
    // Delete: tenant 1's login logs older than six months went; tenant 2's and the young stayed.
    const logs = await env.sql<{ tenant_id: number; old: boolean; n: string }>(
      `SELECT tenant_id, logged_in_at <= now() - interval '6 months' AS old, count(*) AS n FROM ${s}.login_logs GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    expect(logs.map((r) => [r.tenant_id, r.old, Number(r.n)])).toEqual([
      [1, false, 9],
      [2, false, 9],
      [2, true, 11],
    ]);
    // Anonymize: the closed accounts' email is an HMAC, their phone NULL, their name untouched.
    const accounts = await env.sql<{ id: string; name: string; email: string | null; phone: string | null }>(`SELECT id, name, email, phone FROM ${s}.accounts ORDER BY id`);
    for (const a of accounts) {
      expect(a.name).toBe(`name ${a.id}`);
      if (Number(a.id) % 2 === 0) {
        expect(a.email).not.toContain('@');
        expect(a.phone).toBeNull();
      } else {
        expect(a.email).toBe(`user${a.id}@example.com`);
      }
    }
    // Archive: the orders placed two years ago or more moved, whole, to the archive.
    const orders = await env.sql<{ id: string }>(`SELECT id FROM ${s}.orders ORDER BY id`);
    const archived = await env.sql<{ id: string; customer: string; total: string }>(`SELECT id, customer, total FROM ${s}.orders_archive ORDER BY id`);
    expect(orders.map((o) => Number(o.id))).toEqual([1, 2, 3]);
    expect(archived.map((o) => [Number(o.id), o.customer, o.total])).toEqual([4, 5, 6, 7, 8].map((g) => [g, `customer ${g}`, (g * 10.5).toFixed(2)]));

    // Cascade: the rows paid 200 days ago or more went, with their files, through the outbox
    // the role created in its own state schema (no CREATE on the database needed).
    const photos = await env.sql<{ id: string }>(`SELECT id FROM ${s}.id_photos ORDER BY id`);
    expect(photos.map((p) => Number(p.id))).toEqual([1]);
    expect([1, 2, 3, 4].map((g) => existsSync(join(photosRoot(), `photo-${g}.jpg`)))).toEqual([true, false, false, false]);

    const verify = await spawnCli(['audit', 'verify', '--config', file], WARNINGS_ON);
    expect(verify.code).toBe(0);
  });

  it('really runs as that role: without its DELETE grant the delete rule fails', async () => {
    const role = await createWorkerRole();
    await env.sql(`REVOKE DELETE ON ${env.schema}.login_logs FROM ${pg.escapeIdentifier(role)}`);
    const file = configAs(role, [RULES()[0]!]);
    const run = await spawnCli(['run', '--all', '--config', file], WARNINGS_ON);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('permission denied');
    const left = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.login_logs`);
    expect(Number(left[0]!.n)).toBe(40);
  });
});
