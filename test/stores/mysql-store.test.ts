import mysql from 'mysql2/promise';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isTransient } from '../../src/executor/classify-error.js';
import { UserError } from '../../src/errors.js';
import { createMysqlDatabase } from '../../src/stores/mysql/connect.js';
import { ident, qualified } from '../../src/stores/mysql/mysql-sql.js';
import { MysqlStore } from '../../src/stores/mysql/mysql-store.js';
import { mysqlTargetSchema } from '../../src/stores/mysql/mysql-target.js';
import { expired } from '../../src/stores/selection.js';
import type { KeyRange } from '../../src/stores/store.js';
import { createMysqlEnv, MYSQL_URL, type MysqlEnv } from './mysql-env.js';

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const ALL: KeyRange = { after: null, upTo: null };
const OLD = '2020-01-01 00:00:00';
const NEW = '2099-01-01 00:00:00';
/** Everything up to 2025 is expired. */
const SELECTION = expired([{ from: null, to: Date.parse('2025-01-01T00:00:00Z') }]);

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

describe('mysql store', () => {
  it('filters exactly: a BIGINT beyond 2^53, text byte for byte under a case-insensitive collation, NULL-safe not', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL, tenant bigint NULL, name varchar(20) COLLATE utf8mb4_general_ci NULL)`);
    await env.sql(`INSERT INTO events VALUES (1, ?, 9007199254740993, 'acme'), (2, ?, 9007199254740992, 'acme'), (3, ?, 9007199254740993, 'ACME'),
                   (4, ?, 9007199254740993, 'acme '), (5, ?, 9007199254740993, NULL), (6, ?, 9007199254740993, 'acme')`, [OLD, OLD, OLD, OLD, OLD, NEW]);
    const store = env.store();
    const tenant = { column: 'tenant', op: 'eq' as const, value: { kind: 'number' as const, text: '9007199254740993' } };
    const byName = { column: 'name', op: 'eq' as const, value: { kind: 'string' as const, text: 'acme' } };
    const exactRule = env.rule({ target: { where: [tenant, byName] } });
    expect(await store.count(exactRule, SELECTION, CONTEXT)).toBe(1);
    const notAcme = env.rule({ target: { where: [tenant, { column: 'name', op: 'not-eq', value: { kind: 'string', text: 'acme' } }] } });
    expect(await store.count(notAcme, SELECTION, CONTEXT)).toBe(3); // ACME, 'acme ', NULL
    const nullName = env.rule({ target: { where: [{ column: 'name', op: 'is-null' }] } });
    expect(await store.count(nullName, SELECTION, CONTEXT)).toBe(1);

    expect((await store.apply({ rule: exactRule, selection: SELECTION, keyRange: ALL, dryRun: false, context: CONTEXT })).rows).toBe(1);
    expect((await env.sql<{ id: number }>('SELECT id FROM events ORDER BY id')).map((r) => r.id)).toEqual([2, 3, 4, 5, 6]);
  });

  for (const [keyType, keys] of [
    ['int', Array.from({ length: 950 }, (_, i) => i + 1)],
    ['bigint unsigned', Array.from({ length: 400 }, (_, i) => `${18446744073709551000n - BigInt(i) * 997n}`)],
    ['varchar(40)', Array.from({ length: 450 }, (_, i) => `k-${(i * 7919) % 1000}-${i}`)],
  ] as const) {
    it(`batches from partition and apply cover every expired row exactly once (${keyType} keys)`, async () => {
      await env.sql(`CREATE TABLE events (id ${keyType} NOT NULL PRIMARY KEY, at datetime NULL)`);
      for (const [i, key] of (keys as readonly (string | number)[]).entries()) await env.sql('INSERT INTO events VALUES (?, ?)', [key, i % 3 === 0 ? NEW : OLD]);
      await env.sql('ANALYZE TABLE events');
      const store = env.store();
      const rule = env.rule({ batchSize: 100 });
      const expected = await store.count(rule, SELECTION, CONTEXT);
      const ranges = await store.partition(rule, SELECTION);
      expect(ranges.length).toBeGreaterThan(3);
      expect(ranges[0]!.after).toBeNull();
      expect(ranges[ranges.length - 1]!.upTo).toBeNull();
      let dry = 0;
      for (const keyRange of ranges) dry += (await store.apply({ rule, selection: SELECTION, keyRange, dryRun: true, context: CONTEXT })).rows;
      let deleted = 0;
      for (const keyRange of ranges) {
        const { rows } = await store.apply({ rule, selection: SELECTION, keyRange, dryRun: false, context: CONTEXT });
        expect(rows).toBeLessThanOrEqual(100);
        deleted += rows;
      }
      expect(dry).toBe(expected);
      expect(deleted).toBe(expected);
      const left = await env.sql<{ n: number; old: string }>(`SELECT COUNT(*) AS n, CAST(SUM(at = ?) AS CHAR) AS old FROM events`, [OLD]);
      expect(Number(left[0]!.n)).toBe(keys.length - expected);
      expect(Number(left[0]!.old ?? 0)).toBe(0);
    });
  }

  it('plans a sweep of a few expired rows through the anchor index: one batch, or none when nothing expired (issue 8)', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL, INDEX (at))`);
    await env.sql(`INSERT INTO events SELECT seq, ? FROM seq_1_to_3000`, [NEW]);
    const store = env.store();
    const rule = env.rule({ batchSize: 100 });
    // Nothing expired: no batch at all (key ranges would make 31).
    expect(await store.partition(rule, SELECTION, CONTEXT)).toEqual([]);
    await env.sql(`UPDATE events SET at = ? WHERE id IN (5, 1500, 2999)`, [OLD]);
    const ranges = await store.partition(rule, SELECTION, CONTEXT);
    expect(ranges).toEqual([{ after: null, upTo: null }]);
    expect((await store.apply({ rule, selection: SELECTION, keyRange: ranges[0]!, dryRun: false, context: CONTEXT })).rows).toBe(3);
    // Every 12th id expired (1500 already went: 249 rows): bounded by the 100th and 200th
    // of their keys, 1200 and 2412.
    await env.sql(`UPDATE events SET at = ? WHERE id % 12 = 0`, [OLD]);
    const bounded = await store.partition(rule, SELECTION, CONTEXT);
    expect(bounded).toEqual([
      { after: null, upTo: '1200' },
      { after: '1200', upTo: '2412' },
      { after: '2412', upTo: null },
    ]);
    let deleted = 0;
    for (const keyRange of bounded) deleted += (await store.apply({ rule, selection: SELECTION, keyRange, dryRun: false, context: CONTEXT })).rows;
    expect(deleted).toBe(249);
    expect(Number((await env.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM events WHERE at = ?`, [OLD]))[0]!.n)).toBe(0);
    expect(Number((await env.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM events`))[0]!.n)).toBe(3000 - 3 - 249);
  });

  it('keeps a row whose anchor or filter column changed after planning', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL, kind varchar(10) NOT NULL)`);
    await env.sql(`INSERT INTO events VALUES (1, ?, 'log'), (2, ?, 'log'), (3, ?, 'log')`, [OLD, OLD, OLD]);
    const store = env.store();
    const rule = env.rule({ target: { where: [{ column: 'kind', op: 'eq', value: { kind: 'string', text: 'log' } }] } });
    const ranges = await store.partition(rule, SELECTION);
    expect(await store.count(rule, SELECTION, CONTEXT)).toBe(3);
    // Between planning and the batch the application uses row 1 again and reclassifies row 2.
    await env.sql(`UPDATE events SET at = ? WHERE id = 1`, [NEW]);
    await env.sql(`UPDATE events SET kind = 'invoice' WHERE id = 2`);
    let deleted = 0;
    for (const keyRange of ranges) deleted += (await store.apply({ rule, selection: SELECTION, keyRange, dryRun: false, context: CONTEXT })).rows;
    expect(deleted).toBe(1);
    expect((await env.sql<{ id: number }>('SELECT id FROM events ORDER BY id')).map((r) => r.id)).toEqual([1, 2]);
  });

  it('plan --diff: counts rows a changed rule newly matches and no longer matches', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL, kind varchar(10) NULL)`);
    await env.sql(`INSERT INTO events VALUES (1, '2019-01-01', 'a'), (2, '2024-06-01', 'a'), (3, '2024-06-01', 'b'), (4, NULL, 'a'), (5, '2019-01-01', NULL)`);
    const kindA = [{ column: 'kind', op: 'eq' as const, value: { kind: 'string' as const, text: 'a' } }];
    const rule = env.rule({ target: { where: kindA } });
    const previous = env.rule({ target: { where: [] } });
    const older = expired([{ from: null, to: Date.parse('2020-01-01T00:00:00Z') }]);
    // Now: kind a up to 2025 (1, 2). Before: anything up to 2020 (1, 5).
    expect(await env.store().countChange(rule, SELECTION, { rule: previous, selection: older }, CONTEXT)).toEqual({ newly: 1, noLonger: 1 });
  });

  it('refuses a batch whose deletes would cascade through a foreign key added after check, deleting nothing', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL) ENGINE=InnoDB`);
    await env.sql(`INSERT INTO events VALUES (1, ?), (2, ?)`, [OLD, OLD]);
    const store = env.store();
    const rule = env.rule();
    expect(await store.inspect(rule, 'rules[0]', CONTEXT)).toEqual([]);
    await env.sql(`CREATE TABLE notes (id int PRIMARY KEY, event_id int, FOREIGN KEY (event_id) REFERENCES events (id) ON DELETE CASCADE) ENGINE=InnoDB`);
    await env.sql(`INSERT INTO notes VALUES (10, 1)`);
    const error = await store.apply({ rule, selection: SELECTION, keyRange: ALL, dryRun: false, context: CONTEXT }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/notes \(.*ON DELETE CASCADE\)/);
    expect(isTransient(error)).toBe(false);
    expect((await env.sql('SELECT id FROM events')).length).toBe(2);
    expect((await env.sql('SELECT id FROM notes')).length).toBe(1);
  });

  it('a dry run counts what the real run then deletes, and changes nothing', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at timestamp(3) NULL)`);
    for (let i = 1; i <= 300; i++) await env.sql('INSERT INTO events VALUES (?, ?)', [i, i % 4 === 0 ? NEW.replace('2099', '2030') : i % 7 === 0 ? null : OLD]);
    const store = env.store();
    const rule = env.rule({ batchSize: 100 });
    const ranges = await store.partition(rule, SELECTION);
    let dry = 0;
    for (const keyRange of ranges) dry += (await store.apply({ rule, selection: SELECTION, keyRange, dryRun: true, context: CONTEXT })).rows;
    expect(Number((await env.sql<{ n: number }>('SELECT COUNT(*) AS n FROM events'))[0]!.n)).toBe(300);
    let real = 0;
    for (const keyRange of ranges) real += (await store.apply({ rule, selection: SELECTION, keyRange, dryRun: false, context: CONTEXT })).rows;
    expect(dry).toBeGreaterThan(100);
    expect(real).toBe(dry);
    expect(await store.unjudged(rule)).toEqual({ 'null anchor': 32 });
  });

  it('gives up on a locked row within the session lock timeout, with a code the executor retries', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime NULL) ENGINE=InnoDB`);
    await env.sql(`INSERT INTO events VALUES (1, ?), (2, ?)`, [OLD, OLD]);
    const holder = await mysql.createConnection({ uri: env.url });
    try {
      await holder.query('START TRANSACTION');
      await holder.query('SELECT * FROM events WHERE id = 1 FOR UPDATE');
      const started = Date.now();
      const error = await env
        .store()
        .apply({ rule: env.rule(), selection: SELECTION, keyRange: ALL, dryRun: false, context: CONTEXT })
        .catch((e: unknown) => e);
      expect((error as { code?: string }).code).toBe('ER_LOCK_WAIT_TIMEOUT');
      expect(isTransient(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(10_000);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    // Nothing was deleted by the failed batch: it rolled back as a whole.
    expect((await env.sql('SELECT id FROM events')).length).toBe(2);
    const mysqlError = (code: string) => Object.assign(new Error(code), { code });
    for (const code of ['ER_LOCK_DEADLOCK', 'ER_STATEMENT_TIMEOUT', 'PROTOCOL_CONNECTION_LOST', 'ER_CON_COUNT_ERROR']) expect(isTransient(mysqlError(code)), code).toBe(true);
    // A user's mistake or a row's data is not retried.
    for (const code of ['ER_NO_SUCH_TABLE', 'ER_BAD_FIELD_ERROR', 'ER_ROW_IS_REFERENCED_2', 'ER_DATA_TOO_LONG']) expect(isTransient(mysqlError(code)), code).toBe(false);
  });

  it('an unreachable server is a UserError naming the URL without its password from ping, and a retried error from a batch', async () => {
    const store = new MysqlStore('app', createMysqlDatabase('mysql://root:s3cret@127.0.0.1:1/db', 'stores.app.url in test.yaml'));
    try {
      const error = await store.ping().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toContain('mysql://root:***@127.0.0.1:1/db');
      expect((error as Error).message).not.toContain('s3cret');
      const batchError = await store.count(env.rule(), SELECTION, CONTEXT).catch((e: unknown) => e);
      expect((batchError as { code?: string }).code).toBe('ECONNREFUSED');
      expect(isTransient(batchError)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses hostile identifiers in a rule, and quotes any name it is given as one identifier', async () => {
    for (const table of ['events; DROP TABLE users', 'a`b', 'x.y.z', '`events`', 'ev ents']) {
      expect(mysqlTargetSchema.safeParse({ table, anchor: 'at' }).success, table).toBe(false);
    }
    for (const column of ['at`; DROP TABLE x; --', 'a.b', '1x']) {
      expect(mysqlTargetSchema.safeParse({ table: 'events', anchor: column }).success, column).toBe(false);
      expect(mysqlTargetSchema.safeParse({ table: 'events', anchor: 'at', where: { [column]: 1 } }).success, column).toBe(false);
    }
    expect(ident('a`b; DROP TABLE x').text).toBe('`a``b; DROP TABLE x`');
    expect(ident('a.b').text).toBe('`a.b`');
    expect(qualified({ schema: 'd`b', name: 't' }).text).toBe('`d``b`.`t`');
    // Even past the schema, such a name is looked up as one identifier, never executed.
    await env.sql('CREATE TABLE victim (id int PRIMARY KEY)');
    const hostile = env.rule({ target: { table: { schema: null, name: 'victim`; DROP TABLE victim; --' } } });
    const problems = await env.store().inspect(hostile, 'rules[0]', CONTEXT);
    expect(problems.map((p) => p.path)).toEqual(['rules[0].table']);
    expect((await env.sql('SHOW TABLES LIKE ?', ['victim'])).length).toBe(1);
  });
});
