import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import type { StoreContext } from '../../src/stores/store.js';
import { TEST_HMAC_KEY } from '../helpers/test-env.js';
import { createMysqlEnv, MYSQL_URL, type MysqlEnv } from './mysql-env.js';

const CONTEXT: StoreContext = { hmacKey: Buffer.from(TEST_HMAC_KEY), timezone: 'UTC' };

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

async function problems(overrides: Parameters<MysqlEnv['rule']>[0], context = CONTEXT): Promise<Record<string, string>> {
  const found = await env.store().inspect(env.rule(overrides), 'rules[0]', context);
  return Object.fromEntries(found.map((p) => [p.path, p.message]));
}

describe('mysql store: check', () => {
  it('accepts a well-formed rule', async () => {
    await env.sql(`CREATE TABLE events (id bigint unsigned NOT NULL PRIMARY KEY, at datetime NULL, tenant bigint NOT NULL, email varchar(255) NULL)`);
    const rule = {
      action: 'anonymize' as const,
      anonymize: [{ column: 'email', strategy: 'hmac' }],
      target: { where: [{ column: 'tenant', op: 'eq' as const, value: { kind: 'number' as const, text: '9007199254740993' } }] },
    };
    expect(await problems(rule)).toEqual({});
  });

  it('names the field of each problem: table, key, anchor, where, anonymize', async () => {
    await env.sql(`CREATE TABLE events (id int NULL UNIQUE, at varchar(30) NULL, tenant bigint NULL, price decimal(6,2) NULL, name varchar(8) NULL, email char(40) NOT NULL,
                   full_name varchar(80) AS (CONCAT(name, '!')) VIRTUAL, seen timestamp NULL, ip varchar(45) NOT NULL)`);
    const found = await problems(
      {
        action: 'anonymize',
        timezone: 'Europe/Berlin',
        anonymize: [
          { column: 'email', strategy: 'hmac' },
          { column: 'full_name', strategy: 'redact' },
          { column: 'seen', strategy: 'truncate-date' },
          { column: 'ip', strategy: 'truncate-ip' },
          { column: 'nope', strategy: 'null' },
        ],
        target: {
          where: [
            { column: 'tenant', op: 'eq', value: { kind: 'number', text: '9223372036854775808' } },
            { column: 'price', op: 'eq', value: { kind: 'number', text: '1.005' } },
            { column: 'name', op: 'not-eq', value: { kind: 'number', text: '7' } },
          ],
        },
      },
      { hmacKey: null, timezone: 'Europe/Berlin' },
    );
    expect(Object.keys(found).sort()).toEqual(
      [
        'rules[0].key',
        'rules[0].anchor',
        'rules[0].where.tenant',
        'rules[0].where.price',
        'rules[0].where.name.not',
        'rules[0].anonymize.email',
        'rules[0].anonymize.full_name',
        'rules[0].anonymize.seen',
        'rules[0].anonymize.ip',
        'rules[0].anonymize.nope',
      ].sort(),
    );
    expect(found['rules[0].key']).toMatch(/allows NULL/);
    expect(found['rules[0].anchor']).toMatch(/varchar\(30\); an anchor must be DATETIME, TIMESTAMP or DATE/);
    expect(found['rules[0].where.tenant']).toMatch(/out of range/);
    expect(found['rules[0].where.price']).toMatch(/decimal places would be rounded/);
    expect(found['rules[0].where.name.not']).toMatch(/quote it/);
    expect(found['rules[0].anonymize.email']).toMatch(/RETENTION_HMAC_KEY/);
    expect(found['rules[0].anonymize.full_name']).toMatch(/generated column/);
    expect(found['rules[0].anonymize.seen']).toMatch(/fixed-offset/);
    expect(found['rules[0].anonymize.ip']).toMatch(/must allow NULL/);
  });

  it('refuses views, system databases, missing tables, and deletes that other tables would feel through foreign keys', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL) ENGINE=InnoDB`);
    await env.sql(`CREATE TABLE children (id int PRIMARY KEY, event_id int, FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE) ENGINE=InnoDB`);
    await env.sql(`CREATE VIEW recent AS SELECT id, at FROM events`);
    expect(Object.keys(await problems({}))).toEqual(['rules[0].table']);
    expect((await problems({}))['rules[0].table']).toMatch(/ON DELETE CASCADE/);
    expect((await problems({ action: 'anonymize', anonymize: [] }))).toEqual({});
    expect((await problems({ target: { table: { schema: null, name: 'recent' } } }))['rules[0].table']).toMatch(/view, not a table/);
    expect((await problems({ target: { table: { schema: null, name: 'missing' } } }))['rules[0].table']).toMatch(/does not exist/);
    for (const schema of ['mysql', 'INFORMATION_SCHEMA', 'performance_schema', 'sys']) {
      expect((await problems({ target: { table: { schema, name: 'user' } } }))['rules[0].table']).toMatch(/system database/);
    }
  });

  it('loads kind: mysql from a config and reports its problems by path', () => {
    const yaml = (store: Record<string, unknown>, rule: Record<string, unknown>) =>
      stringify({
        redis: 'redis://127.0.0.1:6379',
        state: 'postgres://postgres@127.0.0.1:5432/test',
        stores: { shop: { kind: 'mysql', ...store } },
        rules: [{ id: 'orders', store: 'shop', anchor: 'at', retain: 'P1Y', action: 'delete', ...rule }],
      });
    // The number written in the file, beyond 2^53 (a JavaScript number would round it).
    const text = yaml({ url: `${MYSQL_URL}/shop`, anchorZone: 'Europe/Berlin' }, { table: 'orders', where: { tenant: 'BIG' } }).replace('tenant: BIG', 'tenant: 9007199254740993');
    const config = parseConfig(text, 'c.yaml', {}, STORE_KINDS);
    expect(config.rules[0]!.kind).toBe('mysql');
    expect(config.rules[0]!.target).toMatchObject({
      table: { schema: null, name: 'orders' },
      anchorZone: { name: 'Europe/Berlin', from: 'store' },
      where: [{ column: 'tenant', op: 'eq', value: { kind: 'number', text: '9007199254740993' } }],
    });
    const paths = (store: Record<string, unknown>, rule: Record<string, unknown>) => {
      try {
        parseConfig(yaml(store, rule), 'c.yaml', {}, STORE_KINDS);
        return [];
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        return error.problems.map((p) => p.path);
      }
    };
    expect(paths({ url: 'postgres://x/y' }, { table: 'orders' })).toEqual(['stores.shop.url']);
    expect(paths({ url: 'mysql://h/db?multipleStatements=true' }, { table: 'orders' })).toEqual(['stores.shop.url']);
    expect(paths({ url: 'mysql://h/db' }, { table: 'mysql.user' })).toEqual(['rules[0].table']);
    expect(paths({ url: 'mysql://h/db' }, { table: 'orders`; DROP TABLE x' })).toEqual(['rules[0].table']);
    expect(paths({ url: 'mysql://h/db' }, { table: 'orders', cascades: 'allow' })).toEqual(['rules[0].cascades']);
  });
});
