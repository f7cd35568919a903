import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mysqlStoreFacts } from '../../src/coverage/store-facts.js';
import { createMysqlDatabase } from '../../src/stores/mysql/connect.js';
import { readMysqlCatalogFacts } from '../../src/stores/mysql/catalog-columns.js';
import { lines, runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { createMysqlEnv, MYSQL_URL, type MysqlEnv } from '../stores/mysql-env.js';

/**
 * `retention coverage` on a real MariaDB database (the test's own, dropped after): the
 * same judging as PostgreSQL's, on the columns information_schema gives for the URL's
 * database, with MySQL's types mapped (tinyint(1) is a boolean, VARBINARY(16) may be an
 * address, INET6 is one, YEAR is a date).
 */

let env: TestEnv;
let maria: MysqlEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  maria = await createMysqlEnv();
  files = tempDir();
  await maria.sql(`CREATE TABLE conversations (id BIGINT PRIMARY KEY, contact_email VARCHAR(255), transcript TEXT, started_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
  await maria.sql(`CREATE TABLE visitors (id BIGINT PRIMARY KEY, ip VARBINARY(16), client INET6, user_agent VARCHAR(255), seen_at DATETIME NOT NULL)`);
  await maria.sql(`CREATE TABLE accounts (id BIGINT PRIMARY KEY, email VARCHAR(255), birth_year YEAR, phone_verified BOOLEAN, email_count INT, created_at DATETIME NOT NULL)`);
  // A view's rows live in its table: not scanned.
  await maria.sql(`CREATE VIEW account_emails AS SELECT id, email AS other_email FROM accounts`);
});
afterEach(async () => {
  files.remove();
  await maria.cleanup();
  await env.cleanup();
});

/** Only the MariaDB store: rules and inventory on `support`. Rules' tables are written with the database (the env would put the PostgreSQL schema before a bare name). */
async function coverage(rules: Record<string, unknown>[], inventory: Record<string, unknown>[], args: string[] = []) {
  const file = files.write(
    'retention.yaml',
    env.configYaml(
      rules.map((r) => ({ store: 'support', anchor: 'started_at', retain: 'P1Y', action: 'delete', ...r, table: `${maria.database}.${String(r.table)}` })),
      { stores: { support: { kind: 'mysql', url: maria.url } }, inventory },
    ),
  );
  return runMain(['coverage', '--config', file, ...args]);
}

const t = (table: string) => `${maria.database}.${table}`;

describe('retention coverage on MariaDB', () => {
  it('names the uncovered personal columns and the inventory entry on a missing table, and exits 1', async () => {
    const outcome = await coverage(
      [{ id: 'conversations-2y', table: 'conversations' }],
      [
        { store: 'support', table: 'accounts', columns: { email: 'email' }, keptBecause: 'the login name; deleted with the account' },
        { store: 'support', table: 'archived_accounts', categories: ['email'], keptBecause: 'tax records' },
      ],
      ['--json'],
    );
    expect(outcome.code).toBe(1);
    const report = JSON.parse(outcome.stdout);
    expect(report).toMatchObject({ ok: false, inspected: ['support'], notInspected: [], unruledEntries: [] });
    expect(report.uncoveredColumns).toEqual([
      { store: 'support', table: t('accounts'), column: 'birth_year', type: 'year(4)', category: 'birth-date' },
      { store: 'support', table: t('visitors'), column: 'ip', type: 'varbinary(16)', category: 'ip' },
      { store: 'support', table: t('visitors'), column: 'client', type: 'inet6', category: 'ip' },
      { store: 'support', table: t('visitors'), column: 'user_agent', type: 'varchar(255)', category: 'device' },
    ]);
    expect(report.missing).toEqual([{ store: 'support', path: 'inventory[1].table', message: 'table archived_accounts does not exist in store support' }]);
    expect(outcome.stderr).toMatch(/^retention: coverage: 5 gaps found in .*retention\.yaml$/);
  });

  it('prints the uncovered column with its MySQL type, and a rule column the table lacks', async () => {
    const outcome = await coverage(
      [
        { id: 'conversations-2y', table: 'conversations', subject: 'email' },
        { id: 'visitors-1y', table: 'visitors', anchor: 'seen_at' },
      ],
      [{ store: 'support', table: 'accounts', columns: { email: 'email' }, keptBecause: 'login' }],
    );
    expect(outcome.code).toBe(1);
    const file = outcome.stderr.split(' found in ')[1]!;
    expect(lines(outcome.stdout)).toEqual([
      'Personal-data columns no rule or inventory entry covers: 1',
      `  support: ${t('accounts')}.birth_year (year(4)) looks like birth-date`,
      'Inventory entries with no rule and no keptBecause: none',
      'Rules and inventory entries naming what does not exist: 1',
      `  ${file}: rules[0].subject: column email does not exist in ${t('conversations')}`,
      'Not inspected (coverage reads only postgres, mysql stores yet; these are NOT checked): none',
      '2 gaps',
    ]);
  });

  it('exits 0 when every personal column is under a rule or in the inventory', async () => {
    const outcome = await coverage(
      [
        { id: 'conversations-2y', table: 'conversations', subject: 'contact_email' },
        { id: 'visitors-1y', table: 'visitors', anchor: 'seen_at' },
      ],
      [{ store: 'support', table: 'accounts', columns: { email: 'email', birth_year: 'birth-date' }, keptBecause: 'the account, deleted by the application' }],
    );
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(lines(outcome.stdout).at(-1)).toBe('ok: nothing uncovered in store support');
  });

  it("reads only the URL's database, never the server's own, and resolves a bare name in the URL's database", async () => {
    const other = `${maria.database}_other`;
    await maria.sql(`CREATE DATABASE ${other}`);
    try {
      await maria.sql(`CREATE TABLE ${other}.people (id BIGINT PRIMARY KEY, email VARCHAR(255))`);
      const db = createMysqlDatabase(maria.url, 'test');
      try {
        const facts = await readMysqlCatalogFacts(db, [
          { schema: null, name: 'accounts' },
          { schema: other, name: 'people' },
          { schema: 'mysql', name: 'user' },
          { schema: null, name: 'nothing_here' },
        ]);
        expect([...facts.resolved]).toEqual([
          ['accounts', t('accounts')],
          [`${other}.people`, `${other}.people`],
          ['mysql.user', null],
          ['nothing_here', null],
        ]);
        // The other database's table is read because it is named, and not scanned; no system database is read.
        const tables = new Map(mysqlStoreFacts(facts).columns.map((c) => [c.table, c.scanned]));
        expect([...tables]).toEqual([
          [t('accounts'), true],
          [t('conversations'), true],
          [t('visitors'), true],
          [`${other}.people`, false],
        ]);
      } finally {
        await db.end();
      }
      // A URL naming a system database scans nothing.
      const system = createMysqlDatabase(`${MYSQL_URL}/mysql`, 'test');
      try {
        expect((await readMysqlCatalogFacts(system, [{ schema: null, name: 'user' }])).columns).toEqual([]);
      } finally {
        await system.end();
      }
    } finally {
      await maria.sql(`DROP DATABASE IF EXISTS ${other}`);
    }
  });
});
