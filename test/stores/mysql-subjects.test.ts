import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { parseConfig } from '../../src/policy/load-config.js';
import type { Rule } from '../../src/policy/rule.js';
import type { MysqlStore } from '../../src/stores/mysql/mysql-store.js';
import type { MysqlTarget } from '../../src/stores/mysql/mysql-target.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { expired, ofSubject, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';
import { holdSubject } from './subject-hold.js';

/**
 * Selecting one person's rows (erasure requests) and leaving held people's rows (legal
 * holds) in MariaDB/MySQL tables, against the real server: exact matches under a
 * case-insensitive collation, ids judged against the column's type before any CAST (the
 * server takes '1abc' = 1 as true, even in a DELETE in strict mode), the rule's filters,
 * and the held rows counted where they were kept.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const OLD = '2020-01-01 00:00:00';
const NEW = '2099-01-01 00:00:00';
/** Everything up to 2025 is expired. */
const EXPIRED = expired([{ from: null, to: Date.parse('2025-01-01T00:00:00Z') }]);

/** Ids that a pattern, a prefix, a case fold, trailing space or a quote could confuse with one another. */
const IDS: readonly string[] = ['u1', 'u10', 'U1', 'u1 ', 'u%', 'u_', '%', '_', 'u\\', "o'brien", 'u*', 'u?', 'ü-😀'];
const TOTAL = IDS.reduce((sum, _, i) => sum + i + 1, 0) + 3;

let env: MysqlEnv;
let store: MysqlStore;
beforeEach(async () => {
  env = await createMysqlEnv();
  store = env.store();
});
afterEach(() => env.cleanup());

function rule(overrides: Partial<Omit<Rule<MysqlTarget>, 'target'>> & { target?: Partial<MysqlTarget> } = {}): Rule<MysqlTarget> {
  return env.rule({ subject: 'user_id', ...overrides });
}

/**
 * `events`, its subject a case-insensitive (and PAD SPACE) column: for the i-th id of IDS,
 * i+1 rows, alternately expired and fresh, of kind `login` except every third (`export`);
 * and three expired rows of nobody (NULL user).
 */
async function events(): Promise<void> {
  await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id varchar(40) COLLATE utf8mb4_general_ci NULL,
                   kind varchar(10) NOT NULL, at datetime NOT NULL, email varchar(100) NULL) CHARACTER SET utf8mb4`);
  const rows: unknown[][] = [];
  IDS.forEach((id, i) => {
    for (let g = 0; g <= i; g++) rows.push([id, g % 3 === 2 ? 'export' : 'login', g % 2 === 0 ? OLD : NEW, `a${g}@example.com`]);
  });
  for (let g = 0; g < 3; g++) rows.push([null, 'login', OLD, null]);
  await env.sql('INSERT INTO events (user_id, kind, at, email) VALUES ?', [rows]);
}

async function rowsOf(where: string, values: unknown[] = []): Promise<number> {
  return Number((await env.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM events WHERE ${where}`, values))[0]!.n);
}

/** Every batch of the selection, as a request or a sweep runs them; the results summed. */
async function applyAll(r: Rule<MysqlTarget>, selection: Selection, dryRun = false): Promise<BatchResult> {
  const total = { rows: 0, held: 0 };
  for (const keyRange of await store.partition(r, selection)) {
    const result = await store.apply({ rule: r, selection, keyRange, dryRun, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
  }
  return total;
}

describe('mysql: one person by subject', () => {
  it('selects exactly the rows of the id given, whatever their age: no pattern, prefix, case, trailing space or quote widens it', async () => {
    await events();
    const r = rule();
    for (const [i, id] of IDS.entries()) expect([id, await store.count(r, ofSubject(id), CONTEXT)]).toEqual([id, i + 1]);
    expect(await store.count(r, ofSubject('u'), CONTEXT)).toBe(0);
    expect(await store.count(r, ofSubject('U10'), CONTEXT)).toBe(0);

    for (const id of ['%', 'u%', '_', 'u1']) expect((await applyAll(r, ofSubject(id))).rows).toBe(IDS.indexOf(id) + 1);
    const left = await env.sql<{ user_id: string | null; n: number }>('SELECT CAST(user_id AS BINARY) AS user_id, COUNT(*) AS n FROM events GROUP BY CAST(user_id AS BINARY)');
    const byId = new Map(left.map((row) => [row.user_id === null ? null : Buffer.from(row.user_id).toString('utf8'), Number(row.n)]));
    for (const [i, id] of IDS.entries()) expect([id, byId.get(id) ?? 0]).toEqual([id, ['%', 'u%', '_', 'u1'].includes(id) ? 0 : i + 1]);
    expect(byId.get(null)).toBe(3);
  });

  it('judges the id against an integer column before comparing: "1abc", "abc", an out-of-range number select nothing (the server would take "1abc" for 1)', async () => {
    await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id bigint NULL, at datetime NOT NULL)`);
    await env.sql('INSERT INTO events (user_id, at) VALUES ?', [[[1, OLD], [1, OLD], [1, OLD], [10, OLD], [2, OLD], [null, OLD]]]);
    // The trap itself: the server's own comparison.
    expect(Number((await env.sql<{ n: number }>(`SELECT COUNT(*) AS n FROM events WHERE user_id = '1abc'`))[0]!.n)).toBe(3);
    const r = rule();
    expect(await store.count(r, ofSubject('1'), CONTEXT)).toBe(3);
    expect(await store.count(r, ofSubject('01'), CONTEXT)).toBe(3);
    for (const id of ['1abc', 'abc', '1.0', '1e0', ' 1', '', '99999999999999999999']) {
      expect([id, await store.count(r, ofSubject(id), CONTEXT)]).toEqual([id, 0]);
      expect([id, (await applyAll(r, ofSubject(id))).rows]).toEqual([id, 0]);
    }
    expect(await rowsOf('TRUE')).toBe(6);
    // Held: '1abc' holds nobody (user 1's rows go), 'abc' is skipped, '2' is kept.
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['1abc', 'abc', '2'] };
    expect(await store.count(r, sweep, CONTEXT)).toBe(5);
    expect(await applyAll(r, sweep)).toEqual({ rows: 5, held: 1 });
    expect((await env.sql<{ user_id: string }>('SELECT user_id FROM events')).map((x) => x.user_id)).toEqual(['2']);
  });

  it("keeps to the rule's where filters", async () => {
    await events();
    const logins = rule({ target: { where: [{ column: 'kind', op: 'eq', value: { kind: 'string', text: 'login' } }] } });
    // U1 (index 2): rows 0, 1 are logins, row 2 an export.
    expect(await store.count(logins, ofSubject('U1'), CONTEXT)).toBe(2);
    expect((await applyAll(logins, ofSubject('U1'))).rows).toBe(2);
    expect(await rowsOf(`CAST(user_id AS BINARY) = 'U1'`)).toBe(1);
    expect(await rowsOf(`CAST(user_id AS BINARY) = 'U1' AND kind = 'export'`)).toBe(1);
  });

  it('anonymizes one person, then finds nothing left to do: the verification count is 0', async () => {
    await events();
    const r = rule({ action: 'anonymize', anonymize: [{ column: 'email', strategy: 'redact' }] });
    const id = "o'brien";
    const n = IDS.indexOf(id) + 1;
    expect(await store.count(r, ofSubject(id), CONTEXT)).toBe(n);
    expect((await applyAll(r, ofSubject(id))).rows).toBe(n);
    expect(await store.count(r, ofSubject(id), CONTEXT)).toBe(0);
    expect(await rowsOf(`user_id = ? AND email LIKE '%@example.com'`, [id])).toBe(0);
    expect(await rowsOf(`user_id = ?`, [id])).toBe(n);
    expect(await rowsOf(`NOT (user_id <=> ?) AND email NOT LIKE '%@example.com'`, [id])).toBe(0);
  });

  it('splits a person with many rows into batches of about batchSize of their rows, which together take all of them and nothing else', async () => {
    await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id varchar(40) NULL, at datetime NOT NULL)`);
    const rows = Array.from({ length: 1050 }, (_, i) => [(i + 1) % 3 === 0 ? 'many' : `other${i}`, NEW]);
    await env.sql('INSERT INTO events (user_id, at) VALUES ?', [rows]);
    const r = rule({ batchSize: 100 });
    const ranges = await store.partition(r, ofSubject('many'));
    expect(ranges).toHaveLength(4);
    const perRange: number[] = [];
    for (const { after, upTo } of ranges) {
      perRange.push(await rowsOf(`user_id = 'many' AND (? IS NULL OR id > ?) AND (? IS NULL OR id <= ?)`, [after, after, upTo, upTo]));
    }
    expect(perRange).toEqual([100, 100, 100, 50]);
    expect((await applyAll(r, ofSubject('many'))).rows).toBe(350);
    expect(await rowsOf('TRUE')).toBe(700);
  });
});

describe('mysql: held subjects', () => {
  it('a sweep leaves the expired rows of held subjects, deletes those of nobody, and counts what it kept (dry and real)', async () => {
    await events();
    const r = rule();
    // The collation takes 'U1' and 'u1 ' for the held 'u1': a hold keeps them too (an
    // erasure of 'u1' would delete only 'u1' itself).
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['u1', "o'brien", 'not-in-the-table'] };
    const expiredRows = await rowsOf(`at = ?`, [OLD]);
    const heldRows = 1 + 2 + 2 + 5; // u1: row 0; U1 and 'u1 ': rows 0, 2 each; o'brien (index 9): rows 0, 2, 4, 6, 8
    expect(await store.count(r, EXPIRED, CONTEXT)).toBe(expiredRows);
    expect(await store.count(r, sweep, CONTEXT)).toBe(expiredRows - heldRows);

    expect(await applyAll(r, sweep, true)).toEqual({ rows: expiredRows - heldRows, held: heldRows });
    expect(await rowsOf('TRUE')).toBe(TOTAL);

    expect(await applyAll(r, sweep)).toEqual({ rows: expiredRows - heldRows, held: heldRows });
    const kept = await env.sql<{ u: Buffer }>(`SELECT CAST(user_id AS BINARY) AS u FROM events WHERE at = ? ORDER BY id`, [OLD]);
    expect(kept.map((k) => Buffer.from(k.u).toString('utf8'))).toEqual(['u1', 'U1', 'U1', 'u1 ', 'u1 ', "o'brien", "o'brien", "o'brien", "o'brien", "o'brien"]);
  });

  it("a held person's request changes nothing and reports their rows as held", async () => {
    await events();
    const request: Selection = { ...ofSubject('u10'), exceptSubjects: ['u10'] };
    expect(await store.count(rule(), request, CONTEXT)).toBe(0);
    expect(await applyAll(rule(), request)).toEqual({ rows: 0, held: 2 });
    expect(await rowsOf(`user_id = 'u10'`)).toBe(2);
  });

  it('refuses held subjects, or a subject, for a rule that declares no subject column, rather than ignore the hold', async () => {
    await events();
    const r = env.rule();
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['u1'] };
    const refused = /rule mysql-rule declares no subject column/;
    await expect(store.count(r, sweep, CONTEXT)).rejects.toThrow(refused);
    await expect(store.partition(r, sweep)).rejects.toThrow(refused);
    await expect(store.apply({ rule: r, selection: sweep, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT })).rejects.toThrow(refused);
    await expect(store.apply({ rule: r, selection: sweep, keyRange: { after: null, upTo: null }, dryRun: true, context: CONTEXT })).rejects.toThrow(refused);
    await expect(store.count(r, ofSubject('u1'), CONTEXT)).rejects.toThrow(refused);
    expect(await rowsOf('TRUE')).toBe(TOTAL);
    expect(await store.count(r, { ...EXPIRED, exceptSubjects: [] }, CONTEXT)).toBe(await rowsOf('at = ?', [OLD]));
  });

  it('refuses a subject column whose type cannot be judged, at check and at run, rather than select nobody', async () => {
    await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id varbinary(16) NULL, at datetime NOT NULL)`);
    const problems = await store.inspect(rule(), 'rules[0]', CONTEXT);
    expect(problems).toContainEqual({ path: 'rules[0].subject', message: expect.stringMatching(/column user_id is varbinary\(16\); a subject column must hold text/) });
    await expect(store.count(rule(), ofSubject('u1'), CONTEXT)).rejects.toThrow(/column user_id is varbinary/);
  });

  it('a sweep run with a hold on one person keeps their expired rows and audits how many it kept (change, then record)', async () => {
    const state: TestEnv = await createTestEnv();
    try {
      await events();
      const extra = Array.from({ length: 300 }, (_, i) => [`x${i}`, 'login', OLD]);
      await env.sql('INSERT INTO events (user_id, kind, at) VALUES ?', [extra]);
      const yaml = state.configYaml(
        [{ id: 'events', store: 'shop', table: `${env.database}.events`, anchor: 'at', anchorZone: 'UTC', retain: 'P1Y', action: 'delete', subject: 'user_id', batchSize: 100 }],
        { stores: { app: { kind: 'postgres', url: DATABASE_URL }, shop: { kind: 'mysql', url: env.url } } },
      );
      const config = parseConfig(yaml, 'test.yaml', {}, STORE_KINDS);
      const runtime = await state.runtime(config);
      await holdSubject(runtime, 'u?');
      const heldRows = await rowsOf(`at = ? AND user_id = 'u?'`, [OLD]);
      const expiredRows = await rowsOf(`at = ?`, [OLD]);
      expect(heldRows).toBe(6); // index 11: rows 0, 2, ..., 10

      const sweep = await plannedSweep(state, config, runtime);
      expect(sweep.batchesTotal).toBeGreaterThan(1);
      let deleted = 0;
      for (let idx = 0; idx < sweep.batchesTotal; idx++) deleted += (await executeBatch(runtime, sweep.id, idx)).rows;
      expect(deleted).toBe(expiredRows - heldRows);
      expect(await rowsOf(`at = ?`, [OLD])).toBe(heldRows);
      expect(await rowsOf(`at = ? AND user_id = 'u?'`, [OLD])).toBe(heldRows);

      const audited = await state.sql<{ rows: string; held: string }>(
        `SELECT sum((entry->>'rows')::int) AS rows, sum(coalesce((entry->>'held')::int, 0)) AS held
           FROM ${state.stateSchema}.audit_log WHERE entry->>'event' = 'batch' AND entry->>'sweepId' = $1`,
        [sweep.id],
      );
      expect(audited[0]).toEqual({ rows: String(expiredRows - heldRows), held: String(heldRows) });
    } finally {
      await state.cleanup();
    }
  });
});

describe('mysql: subject scans and dependencies', () => {
  it("lists every exact subject the rule's filters select, page by page: values the collation folds together are listed apart", async () => {
    await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id varchar(40) COLLATE utf8mb4_general_ci NULL, kind varchar(10) NOT NULL, at datetime NOT NULL)`);
    const people = Array.from({ length: 2500 }, (_, i) => `p${String(i).padStart(4, '0')}`);
    // Each person twice; variants of p0999 (the last of the first page) and p1000 (the first of the next).
    const variants = ['P0999', 'p0999 ', 'P1000', 'ann', 'Ann', 'ANN'];
    const rows: (string | null)[][] = [...people, ...people, ...variants].map((u) => [u, 'login', NEW]);
    rows.push(...Array.from({ length: 50 }, (_, i) => [`export-only-${i}`, 'export', NEW]), [null, 'login', NEW]);
    await env.sql('INSERT INTO events (user_id, kind, at) VALUES ?', [rows]);
    const pages: (readonly string[])[] = [];
    const logins = rule({ target: { where: [{ column: 'kind', op: 'eq', value: { kind: 'string', text: 'login' } }] } });
    for await (const page of store.scanSubjects(logins)) pages.push(page);
    expect(pages.length).toBe(3);
    const seen = new Set(pages.flat());
    expect([...seen].sort()).toEqual([...people, ...variants].sort());
  });

  it('names every table a rule\'s rows reference, through others too, so children are erased first', async () => {
    await env.sql(`CREATE TABLE parent (id bigint PRIMARY KEY, user_id varchar(40), at datetime)`);
    await env.sql(`CREATE TABLE child (id bigint PRIMARY KEY, parent_id bigint, user_id varchar(40), at datetime, FOREIGN KEY (parent_id) REFERENCES parent (id))`);
    await env.sql(`CREATE TABLE grandchild (id bigint PRIMARY KEY, child_id bigint, previous bigint, user_id varchar(40), at datetime,
                   FOREIGN KEY (child_id) REFERENCES child (id), FOREIGN KEY (previous) REFERENCES grandchild (id))`);
    const of = (name: string) => store.dependsOn(rule({ target: { table: { schema: null, name } } }));
    // Both ways a rule may name each (as `describe` shows it): with its database, or bare in the URL's.
    expect(await of('grandchild')).toEqual([`${env.database}.child`, 'child', `${env.database}.parent`, 'parent']);
    expect(await of('child')).toEqual([`${env.database}.parent`, 'parent']);
    expect(await of('parent')).toEqual([]);
    // Through a table in another database: only its qualified name finds it.
    const other = `${env.database}_other`;
    await env.sql(`CREATE DATABASE ${other}`);
    try {
      await env.sql(`CREATE TABLE ${other}.accounts (id bigint PRIMARY KEY)`);
      await env.sql(`CREATE TABLE notes (id bigint PRIMARY KEY, account_id bigint, user_id varchar(40), at datetime, FOREIGN KEY (account_id) REFERENCES ${other}.accounts (id))`);
      expect(await of('notes')).toEqual([`${other}.accounts`]);
    } finally {
      await env.sql(`DROP TABLE IF EXISTS notes`);
      await env.sql(`DROP DATABASE ${other}`);
    }
  });

  it('check warns when no index starts with the subject column', async () => {
    await events();
    const warning = async () => (await env.store().inspect(rule(), 'rules[0]', CONTEXT)).filter((p) => p.path === 'rules[0].subject');
    expect(await warning()).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/no index of .*events starts with column user_id/) })]);
    await env.sql(`CREATE INDEX by_user ON events (user_id, at)`);
    expect(await warning()).toEqual([]);
  });
});

