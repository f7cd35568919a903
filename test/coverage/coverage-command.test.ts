import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { findCoverage, namedTables } from '../../src/coverage/find-coverage.js';
import { postgresStoreFacts } from '../../src/coverage/store-facts.js';
import { readCatalogFacts } from '../../src/stores/postgres/catalog-columns.js';
import { lines, runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, REDIS_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * `retention coverage` on a real PostgreSQL schema: personal-looking columns nothing
 * covers, inventory entries without a rule, rules and entries naming what does not exist,
 * and the exit codes a CI job reads (0 nothing uncovered, 1 gaps, 2 user error).
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`
    CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, email text, phone text, created_at timestamptz NOT NULL, emailed_at timestamptz, email_count int);
    CREATE TABLE ${env.schema}.logins (id bigint PRIMARY KEY, user_id bigint, ip inet, at timestamptz NOT NULL);
    CREATE TABLE ${env.schema}.support_contacts (id bigint PRIMARY KEY, contact_email text, created_at timestamptz NOT NULL);
    CREATE TABLE ${env.schema}.notes (id bigint PRIMARY KEY, body text, created_at timestamptz NOT NULL);
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const q = (table: string) => `${env.schema}.${table}`;

/** A config file for this env, `retention coverage` on it (scanning only this test's schema), and its outcome. */
async function coverage(rules: Record<string, unknown>[], extra: Record<string, unknown>, args: string[] = []) {
  const file = files.write('retention.yaml', env.configYaml(rules, extra));
  return runMain(['coverage', '--config', file, '--schema', env.schema, ...args]);
}

/** users.email is in the inventory, kept for a stated reason; users.phone and logins.ip are in nothing. */
const INVENTORY = () => [
  { store: 'app', table: q('users'), columns: { email: 'email' }, keptBecause: 'the login name; deleted with the account by the application' },
  { store: 'app', table: q('support_contacts'), columns: { contact_email: 'email' }, keptBecause: 'contract with the support provider, reviewed yearly' },
];

describe('retention coverage', () => {
  it('finds exactly the uncovered personal columns and the rule on a missing table, and exits 1', async () => {
    const outcome = await coverage(
      [
        { id: 'notes-1y', table: 'notes', anchor: 'created_at', retain: 'P1Y', action: 'delete' },
        { id: 'gone', table: 'audit_trail', anchor: 'created_at', retain: 'P1Y', action: 'delete' },
      ],
      { inventory: INVENTORY() },
      ['--json'],
    );
    expect(outcome.code).toBe(1);
    const report = JSON.parse(outcome.stdout);
    expect(report.ok).toBe(false);
    expect(report.uncoveredColumns).toEqual([
      { store: 'app', table: q('logins'), column: 'ip', type: 'inet', category: 'ip' },
      { store: 'app', table: q('users'), column: 'phone', type: 'text', category: 'phone' },
    ]);
    // Both inventory entries give a reason to keep their data: neither is a gap.
    expect(report.unruledEntries).toEqual([]);
    expect(report.missing).toEqual([{ store: 'app', path: 'rules[1].table', message: `table ${q('audit_trail')} does not exist in store app` }]);
    expect(outcome.stderr).toMatch(/^retention: coverage: 3 gaps found in .*retention\.yaml$/);
  });

  it('prints the gaps grouped by kind, with file and field paths', async () => {
    const outcome = await coverage(
      [{ id: 'gone', table: 'audit_trail', anchor: 'created_at', retain: 'P1Y', action: 'delete' }],
      { inventory: [{ store: 'app', table: q('users'), columns: { email: 'email', phone: 'phone' } }] },
    );
    expect(outcome.code).toBe(1);
    const file = outcome.stderr.split(' found in ')[1]!;
    expect(lines(outcome.stdout)).toEqual([
      'Personal-data columns no rule or inventory entry covers: 2',
      `  app: ${q('logins')}.ip (inet) looks like ip`,
      `  app: ${q('support_contacts')}.contact_email (text) looks like email`,
      'Inventory entries with no rule and no keptBecause: 1',
      `  ${file}: inventory[0]: table ${q('users')} on store app (email, phone)`,
      'Rules and inventory entries naming what does not exist: 1',
      `  ${file}: rules[0].table: table ${q('audit_trail')} does not exist in store app`,
      'Not inspected (coverage reads only postgres, mysql stores yet; these are NOT checked): none',
      '4 gaps',
    ]);
  });

  it('exits 0 when every personal column is under a rule or kept for a reason', async () => {
    const outcome = await coverage(
      [
        { id: 'users-3y', table: 'users', anchor: 'created_at', retain: 'P3Y', action: 'delete' },
        { id: 'logins-6m', table: 'logins', anchor: 'at', retain: 'P6M', action: 'delete' },
      ],
      { inventory: [INVENTORY()[1], { store: 'app', table: q('users'), columns: { email: 'email', phone: 'phone' } }] },
    );
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(lines(outcome.stdout)).toEqual([
      'Personal-data columns no rule or inventory entry covers: none',
      'Inventory entries with no rule and no keptBecause: none',
      'Rules and inventory entries naming what does not exist: none',
      'Not inspected (coverage reads only postgres, mysql stores yet; these are NOT checked): none',
      'ok: nothing uncovered in store app',
    ]);
  });

  it('reports rule and inventory columns the table does not have', async () => {
    const outcome = await coverage(
      [
        { id: 'users-3y', table: 'users', anchor: 'signed_up_at', retain: 'P3Y', action: 'anonymize', anonymize: { mobile: 'null' }, subject: 'account' },
        { id: 'logins-6m', table: 'logins', anchor: 'at', retain: 'P6M', action: 'delete' },
      ],
      { inventory: [...INVENTORY(), { store: 'app', table: q('logins'), columns: { ip_address: 'ip' } }] },
      ['--json'],
    );
    expect(outcome.code).toBe(1);
    const report = JSON.parse(outcome.stdout);
    expect(report.uncoveredColumns).toEqual([]);
    expect(report.missing.map((m: { path: string }) => m.path)).toEqual(['inventory[2].columns.ip_address', 'rules[0].anchor', 'rules[0].subject', 'rules[0].anonymize.mobile']);
  });

  it('lists a store of another kind as not inspected rather than passing it', async () => {
    const outcome = await coverage(
      [
        { id: 'users-3y', table: 'users', anchor: 'created_at', retain: 'P3Y', action: 'delete' },
        { id: 'logins-6m', table: 'logins', anchor: 'at', retain: 'P6M', action: 'delete' },
      ],
      {
        stores: { app: { kind: 'postgres', url: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test' }, cache: { kind: 'redis', url: REDIS_URL } },
        inventory: [INVENTORY()[1], { store: 'cache', keys: 'session:*', categories: ['ip', 'device'] }],
      },
    );
    expect(outcome.code).toBe(1);
    expect(outcome.stdout).toContain('Not inspected (coverage reads only postgres, mysql stores yet; these are NOT checked): 1\n  store cache (redis): inventory[1]');
    expect(outcome.stdout).toContain('inventory[1]: keys session:* on store cache (ip, device)');
  });

  it('exits 2 with one line naming the store when a database is unreachable', async () => {
    const outcome = await coverage([], { stores: { app: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test' } } });
    expect(outcome.code).toBe(2);
    expect(outcome.stdout).toBe('');
    expect(lines(outcome.stderr)).toHaveLength(1);
    expect(outcome.stderr).toMatch(/^retention: cannot connect to PostgreSQL at postgres:\/\/.*127\.0\.0\.1:1\/test \(stores\.app\.url in .*\): .*ECONNREFUSED/);
  });

  it('exits 2 naming the field of a bad inventory entry', async () => {
    // Shape problems first (as for rules): a config that does not parse is not cross-checked.
    const shape = await coverage([], {
      inventory: [
        { store: 'app', table: 'users', columns: { phone: 'telephone' } },
        { store: 'app', table: 'users', keys: 'user:*', categories: ['email'] },
      ],
    });
    expect(shape.code).toBe(2);
    expect(shape.stdout).toBe('');
    expect(shape.stderr).toContain('retention.yaml: inventory[0].columns.phone: "telephone" is not a data category (valid: email, phone, ip,');
    expect(shape.stderr).toContain('retention.yaml: inventory[1].keys: an inventory entry names one of table, keys or root, not table and keys');
    expect(shape.stderr).not.toMatch(/\n\s+at /);

    const names = await coverage([], {
      inventory: [
        { store: 'warehouse', table: 'users', columns: { email: 'email' } },
        { store: 'app', keys: 'user:*', categories: ['email'] },
      ],
    });
    expect(names.code).toBe(2);
    expect(names.stdout).toBe('');
    expect(names.stderr).toContain('retention.yaml: inventory[0].store: "warehouse" is not a store (defined: app)');
    expect(names.stderr).toContain('retention.yaml: inventory[1].keys: keys is for redis stores; store app is postgres');
  });

  it('parses an inventory entry into the config, and refuses one without categories', () => {
    const config = env.config([], { inventory: [{ store: 'app', table: 'users', columns: { email: 'email' }, keptBecause: 'login' }] });
    expect(config.inventory).toEqual([
      { path: 'inventory[0]', store: 'app', place: { kind: 'table', table: 'users' }, columns: { email: 'email' }, categories: [], keptBecause: 'login' },
    ]);
    expect(() => env.config([], { inventory: [{ store: 'app', table: 'users' }] })).toThrow(ConfigError);
    expect(() => env.config([], { inventory: [{ store: 'app', table: 'users' }] })).toThrow('inventory[0]: an inventory entry names its data categories');
  });

  it("never scans PostgreSQL's own schemas or the config's state schema, even when asked to", async () => {
    await env.sql(`CREATE SCHEMA ${env.stateSchema}; CREATE TABLE ${env.stateSchema}.people (id bigint PRIMARY KEY, email text)`);
    const facts = await readCatalogFacts(env.pool, { stateSchema: env.stateSchema, schemas: [env.schema, env.stateSchema, 'pg_catalog', 'information_schema'], named: [] });
    const schemas = new Set(facts.columns.map((c) => c.table.split('.')[0]));
    expect([...schemas]).toEqual([env.schema]);
  });

  it('resolves an unqualified rule table through the search_path, and covers its columns', async () => {
    const config = env.config([], { inventory: [{ store: 'app', table: 'users', columns: { email: 'email', phone: 'phone' }, keptBecause: 'account' }] });
    const client = await env.pool.connect();
    try {
      await client.query(`SET search_path TO ${env.schema}`);
      const facts = await readCatalogFacts(client, { stateSchema: env.stateSchema, schemas: [env.schema], named: namedTables(config, 'app') });
      expect(facts.resolved.get('users')).toBe(q('users'));
      const report = findCoverage(config, new Map([['app', postgresStoreFacts(facts)]]));
      expect(report.uncoveredColumns.map((c) => `${c.table}.${c.column}`)).toEqual([`${q('logins')}.ip`, `${q('support_contacts')}.contact_email`]);
      expect(report.missing).toEqual([]);
    } finally {
      client.release();
    }
  });
});
