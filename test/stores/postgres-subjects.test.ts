import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { createDatabase, type Database } from '../../src/stores/postgres/connect.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { expired, ofSubject, type Selection } from '../../src/stores/selection.js';
import { sqlRule, type SqlRule } from '../../src/stores/sql/sql-target.js';
import type { BatchResult } from '../../src/stores/store.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { holdSubject } from './subject-hold.js';

/**
 * Selecting one person's rows (erasure requests) and leaving held people's rows (legal
 * holds) in PostgreSQL tables, against the real database: exact matches whatever an id
 * holds, ids read as the column's type, the rule's filters, cascades, and the held rows
 * counted where they were kept.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const DAY = 86_400_000;
/** Rows are 400 days old (expired under P1Y) or a day old. */
const EXPIRED = expired([{ from: null, to: Date.now() - 365 * DAY }]);

/** Ids that a pattern, a prefix, a case fold or a quote could confuse with one another. */
const IDS: readonly string[] = ['u1', 'u10', 'U1', 'u1 ', 'u%', 'u_', '%', '_', 'u\\', "o'brien", 'u*', 'u?', 'ü-😀'];

let env: TestEnv;
let db: Database;
let store: PostgresStore;
beforeEach(async () => {
  env = await createTestEnv();
  db = createDatabase(DATABASE_URL, { origin: 'test' });
  store = new PostgresStore('app', db);
});
afterEach(async () => {
  await store.close();
  await env.cleanup();
});

function rule(extra: Record<string, unknown> = {}): SqlRule {
  return sqlRule(env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id', ...extra }]).rules[0]!);
}

/**
 * `events`: for the i-th id of IDS, i+1 rows, alternately expired and fresh, of kind
 * `login` except every third (`export`); and three rows of nobody (NULL user), expired.
 */
async function events(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, user_id text, kind text NOT NULL, at timestamptz NOT NULL, email text)`);
  for (const [i, id] of IDS.entries()) {
    await env.sql(
      `INSERT INTO ${env.schema}.events (user_id, kind, at, email)
       SELECT $1, CASE WHEN g % 3 = 2 THEN 'export' ELSE 'login' END, now() - CASE WHEN g % 2 = 0 THEN interval '400 days' ELSE interval '1 day' END, 'a' || g || '@example.com'
         FROM generate_series(0, $2) g`,
      [id, i],
    );
  }
  await env.sql(`INSERT INTO ${env.schema}.events (user_id, kind, at) SELECT NULL, 'login', now() - interval '400 days' FROM generate_series(1, 3)`);
}

async function rowsOf(where: string, values: unknown[] = []): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.events WHERE ${where}`, values))[0]!.n);
}

/** Every batch of the selection, as a request or a sweep runs them; the results summed. */
async function applyAll(r: SqlRule, selection: Selection, dryRun = false): Promise<BatchResult & { batches: number }> {
  const ranges = await store.partition(r, selection);
  const total = { rows: 0, held: 0, batches: ranges.length, cascaded: {} as Record<string, number> };
  for (const keyRange of ranges) {
    const result = await store.apply({ rule: r, selection, keyRange, dryRun, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
    for (const [table, n] of Object.entries(result.cascaded ?? {})) total.cascaded[table] = (total.cascaded[table] ?? 0) + n;
  }
  return total;
}

describe('postgres: one person by subject', () => {
  it('selects exactly the rows of the id given, whatever their age: no pattern, prefix, case or quote widens it', async () => {
    await events();
    const r = rule();
    for (const [i, id] of IDS.entries()) expect([id, await store.count(r, ofSubject(id), CONTEXT)]).toEqual([id, i + 1]);
    expect(await store.count(r, ofSubject('u'), CONTEXT)).toBe(0);

    // '%' and 'u%' would match every row (or every u...) as LIKE patterns; '_' any one character.
    for (const id of ['%', 'u%', '_']) expect((await applyAll(r, ofSubject(id))).rows).toBe(IDS.indexOf(id) + 1);
    for (const [i, id] of IDS.entries()) {
      expect([id, await rowsOf('user_id = $1', [id])]).toEqual([id, ['%', 'u%', '_'].includes(id) ? 0 : i + 1]);
    }
    expect(await rowsOf('user_id IS NULL')).toBe(3);
  });

  it('reads the id as the subject column\'s type: an integer column takes "007" as 7, and "abc", "7abc" or an out-of-range number select nothing without failing', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, user_id bigint, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.events (user_id, at) SELECT u, now() - interval '400 days' FROM unnest(ARRAY[7, 7, 7, 70, 1, NULL]::bigint[]) u`);
    const r = rule();
    expect(await store.count(r, ofSubject('7'), CONTEXT)).toBe(3);
    expect(await store.count(r, ofSubject('007'), CONTEXT)).toBe(3);
    for (const id of ['abc', '7abc', '99999999999999999999', '', '7.5']) {
      expect([id, await store.count(r, ofSubject(id), CONTEXT)]).toEqual([id, 0]);
      expect(await store.partition(r, ofSubject(id))).toEqual([{ after: null, upTo: null }]);
      expect([id, (await applyAll(r, ofSubject(id))).rows]).toEqual([id, 0]);
    }
    expect(await rowsOf('true')).toBe(6);
    // A held id the column cannot hold names nobody; the readable ones are still excluded.
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['abc', '7', '1x'] };
    expect(await store.count(r, sweep, CONTEXT)).toBe(3);
    expect(await applyAll(r, sweep)).toMatchObject({ rows: 3, held: 3 });
    expect((await env.sql<{ user_id: string }>(`SELECT user_id FROM ${env.schema}.events ORDER BY id`)).map((x) => x.user_id)).toEqual(['7', '7', '7']);
  });

  it("keeps to the rule's where filters", async () => {
    await events();
    const logins = rule({ where: { kind: 'login' } });
    // U1 (index 2): rows 0, 1 are logins, row 2 an export.
    expect(await store.count(logins, ofSubject('U1'), CONTEXT)).toBe(2);
    expect((await applyAll(logins, ofSubject('U1'))).rows).toBe(2);
    expect(await rowsOf(`user_id = 'U1'`)).toBe(1);
    expect(await rowsOf(`user_id = 'U1' AND kind = 'export'`)).toBe(1);
  });

  it('anonymizes one person, then finds nothing left to do: the verification count is 0', async () => {
    await events();
    const r = rule({ action: 'anonymize', anonymize: { email: 'redact' } });
    const id = "o'brien";
    const n = IDS.indexOf(id) + 1;
    expect(await store.count(r, ofSubject(id), CONTEXT)).toBe(n);
    expect((await applyAll(r, ofSubject(id))).rows).toBe(n);
    expect(await store.count(r, ofSubject(id), CONTEXT)).toBe(0);
    expect(await rowsOf(`user_id = $1 AND email LIKE '%@example.com'`, [id])).toBe(0);
    expect(await rowsOf(`user_id = $1`, [id])).toBe(n);
    expect(await rowsOf(`user_id <> $1 AND email NOT LIKE '%@example.com'`, [id])).toBe(0);
  });

  it('splits a person with many rows into batches of about batchSize of their rows, which together take all of them and nothing else', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, user_id text, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.events (user_id, at) SELECT CASE WHEN g % 3 = 0 THEN 'many' ELSE 'other' || g END, now() FROM generate_series(1, 1050) g`);
    const r = rule({ batchSize: 100 });
    const ranges = await store.partition(r, ofSubject('many'));
    expect(ranges).toHaveLength(4); // 350 rows: bounds at the 100th, 200th and 300th
    const perRange: number[] = [];
    for (const { after, upTo } of ranges) {
      perRange.push(await rowsOf(`user_id = 'many' AND ($1::bigint IS NULL OR id > $1) AND ($2::bigint IS NULL OR id <= $2)`, [after, upTo]));
    }
    expect(perRange).toEqual([100, 100, 100, 50]);
    expect((await applyAll(r, ofSubject('many'))).rows).toBe(350);
    expect(await rowsOf('true')).toBe(700);
  });
});

describe('postgres: held subjects', () => {
  it('a sweep leaves the expired rows of held subjects, deletes those of nobody, and counts what it kept (dry and real)', async () => {
    await events();
    const r = rule();
    const held = ['u1', "o'brien", 'not-in-the-table'];
    const sweep: Selection = { ...EXPIRED, exceptSubjects: held };
    const expiredRows = await rowsOf(`at < now() - interval '1 year'`);
    const heldRows = await rowsOf(`at < now() - interval '1 year' AND user_id = ANY($1)`, [held]);
    expect(heldRows).toBe(1 + 5); // u1: row 0; o'brien (index 9): rows 0, 2, 4, 6, 8
    expect(await store.count(r, EXPIRED, CONTEXT)).toBe(expiredRows);
    expect(await store.count(r, sweep, CONTEXT)).toBe(expiredRows - heldRows);

    const dry = await applyAll(r, sweep, true);
    expect(dry).toMatchObject({ rows: expiredRows - heldRows, held: heldRows });
    expect(await rowsOf('true')).toBe(IDS.reduce((sum, _, i) => sum + i + 1, 0) + 3);

    expect(await applyAll(r, sweep)).toMatchObject({ rows: expiredRows - heldRows, held: heldRows });
    expect(await rowsOf(`at < now() - interval '1 year'`)).toBe(heldRows);
    expect(await rowsOf(`at < now() - interval '1 year' AND NOT (user_id = ANY($1))`, [held])).toBe(0);
    expect(await rowsOf('user_id IS NULL')).toBe(0);
  });

  it('a batch that must isolate a row it cannot delete still leaves the held rows, and counts them', async () => {
    await events();
    const s = env.schema;
    // One expired row of an unheld person (u10, row 0) is still referenced: its DELETE fails alone.
    await env.sql(`CREATE TABLE ${s}.pins (id bigserial PRIMARY KEY, event_id bigint REFERENCES ${s}.events ON DELETE RESTRICT)`);
    await env.sql(`INSERT INTO ${s}.pins (event_id) SELECT min(id) FROM ${s}.events WHERE user_id = 'u10'`);
    const held = ['u1', "o'brien"];
    const heldRows = await rowsOf(`at < now() - interval '1 year' AND user_id = ANY($1)`, [held]);
    const expiredRows = await rowsOf(`at < now() - interval '1 year'`);
    const result = await store.apply({ rule: rule(), selection: { ...EXPIRED, exceptSubjects: held }, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });
    expect(result.skipped).toHaveLength(1);
    expect(result).toMatchObject({ rows: expiredRows - heldRows - 1, held: heldRows });
    expect(await rowsOf(`at < now() - interval '1 year' AND user_id = ANY($1)`, [held])).toBe(heldRows);
    expect(await rowsOf(`at < now() - interval '1 year'`)).toBe(heldRows + 1);
  });

  it("queues the owned files of exactly the rows it deletes, never a held person's (cascade outbox)", async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.photos (id bigserial PRIMARY KEY, user_id text, paid_at timestamptz NOT NULL, file_path text)`);
    await env.sql(
      `INSERT INTO ${s}.photos (user_id, paid_at, file_path) VALUES
         ('u1', now() - interval '400 days', 'u1.jpg'), ('u2', now() - interval '400 days', 'u2-a.jpg'), ('u2', now() - interval '400 days', 'u2-b.jpg'),
         ('u3', now(), 'u3.jpg'), (NULL, now() - interval '400 days', 'nobody.jpg')`,
    );
    const config = env.config(
      [{ id: 'photos', table: 'photos', anchor: 'paid_at', retain: 'P1Y', action: 'delete', subject: 'user_id', cascade: [{ store: 'photos', path: '{file_path}' }] }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, photos: { kind: 'files', root: '/nonexistent/retention-test-uploads' } } },
    );
    const r = sqlRule(config.rules[0]!);
    const withOutbox = new PostgresStore('app', db, { stateSchema: env.stateSchema });
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['u2'] };
    const batch = { rule: r, selection: sweep, keyRange: { after: null, upTo: null }, context: CONTEXT };
    expect(await withOutbox.countObjects(r, sweep, CONTEXT)).toEqual({ photos: 2 });
    expect(await withOutbox.apply({ ...batch, dryRun: true })).toMatchObject({ rows: 2, held: 2, objects: { photos: 2 } });
    expect(await withOutbox.apply({ ...batch, dryRun: false })).toMatchObject({ rows: 2, held: 2, objects: { photos: 2 } });
    const queued = await env.sql<{ path: string }>(`SELECT path FROM "${env.stateSchema}".cascade_outbox ORDER BY path`);
    expect(queued.map((q) => q.path)).toEqual(['nobody.jpg', 'u1.jpg']);
    expect((await env.sql<{ file_path: string }>(`SELECT file_path FROM ${s}.photos ORDER BY id`)).map((p) => p.file_path)).toEqual(['u2-a.jpg', 'u2-b.jpg', 'u3.jpg']);
  });

  it("a held person's request changes nothing and reports their rows as held", async () => {
    await events();
    const r = rule();
    const request: Selection = { ...ofSubject('u10'), exceptSubjects: ['u10'] };
    expect(await store.count(r, request, CONTEXT)).toBe(0);
    expect(await applyAll(r, request)).toMatchObject({ rows: 0, held: 2 });
    expect(await rowsOf(`user_id = 'u10'`)).toBe(2);
  });

  it('refuses held subjects, or a subject, for a rule that declares no subject column, rather than ignore the hold', async () => {
    await events();
    const r = sqlRule(env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1Y', action: 'delete' }]).rules[0]!);
    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['u1'] };
    const refused = /rule events declares no subject column/;
    await expect(store.count(r, sweep, CONTEXT)).rejects.toThrow(refused);
    await expect(store.partition(r, sweep)).rejects.toThrow(refused);
    await expect(store.countCascades(r, sweep, CONTEXT)).rejects.toThrow(refused);
    await expect(store.apply({ rule: r, selection: sweep, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT })).rejects.toThrow(refused);
    await expect(store.count(r, ofSubject('u1'), CONTEXT)).rejects.toThrow(refused);
    expect(await rowsOf('true')).toBe(IDS.reduce((sum, _, i) => sum + i + 1, 0) + 3);
    // An empty list is no hold: the sweep runs.
    expect(await store.count(r, { ...EXPIRED, exceptSubjects: [] }, CONTEXT)).toBe(await rowsOf(`at < now() - interval '1 year'`));
  });

  it('a sweep run with a hold on one person keeps their expired rows and audits how many it kept', async () => {
    await events();
    await env.sql(`INSERT INTO ${env.schema}.events (user_id, kind, at) SELECT 'x' || g, 'login', now() - interval '400 days' FROM generate_series(1, 300) g`);
    const config = env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'user_id', batchSize: 100 }]);
    const runtime = await env.runtime(config);
    await holdSubject(runtime, 'u?');
    const heldRows = await rowsOf(`at < now() - interval '1 year' AND user_id = 'u?'`);
    const expiredRows = await rowsOf(`at < now() - interval '1 year'`);
    expect(heldRows).toBe(6); // index 11: rows 0, 2, ..., 10

    const sweep = await plannedSweep(env, config, runtime);
    expect(sweep.batchesTotal).toBeGreaterThan(1);
    let deleted = 0;
    for (let idx = 0; idx < sweep.batchesTotal; idx++) deleted += (await executeBatch(runtime, sweep.id, idx)).rows;
    expect(deleted).toBe(expiredRows - heldRows);
    expect(await rowsOf(`at < now() - interval '1 year'`)).toBe(heldRows);
    expect(await rowsOf(`at < now() - interval '1 year' AND user_id = 'u?'`)).toBe(heldRows);

    const audited = await env.sql<{ rows: string; held: string }>(
      `SELECT sum((entry->>'rows')::int) AS rows, sum(coalesce((entry->>'held')::int, 0)) AS held
         FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' AND entry->>'sweepId' = $1`,
      [sweep.id],
    );
    expect(audited[0]).toEqual({ rows: String(expiredRows - heldRows), held: String(heldRows) });
  });
});

describe('postgres: cascades, subject scans and dependencies', () => {
  /** users <- orders (CASCADE) <- items (CASCADE); each user with one order per id digit, two items each. */
  async function shop(): Promise<void> {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, user_id text, at timestamptz NOT NULL)`);
    await env.sql(`CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, user_ref bigint NOT NULL REFERENCES ${s}.users ON DELETE CASCADE)`);
    await env.sql(`CREATE TABLE ${s}.items (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES ${s}.orders ON DELETE CASCADE)`);
    await env.sql(`INSERT INTO ${s}.users (user_id, at) VALUES ('u1', now() - interval '400 days'), ('u1', now()), ('u2', now() - interval '400 days'), ('u%', now() - interval '400 days')`);
    await env.sql(`INSERT INTO ${s}.orders (user_ref) SELECT id FROM ${s}.users, generate_series(1, 3)`);
    await env.sql(`INSERT INTO ${s}.items (order_id) SELECT id FROM ${s}.orders, generate_series(1, 2)`);
  }

  it("counts the rows ON DELETE CASCADE takes with one person's rows, deletes exactly those, and spares a held person's children", async () => {
    await shop();
    const s = env.schema;
    const r = rule({ id: 'users', table: 'users', cascades: 'allow' });
    const cascaded = { [`${s}.orders`]: 6, [`${s}.items`]: 12 };
    expect(await store.count(r, ofSubject('u1'), CONTEXT)).toBe(2);
    expect(await store.countCascades(r, ofSubject('u1'), CONTEXT)).toEqual(cascaded);
    expect(await applyAll(r, ofSubject('u1'))).toMatchObject({ rows: 2, cascaded });
    expect((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.items`))[0]!.n).toBe(String(24 - 12));

    const sweep: Selection = { ...EXPIRED, exceptSubjects: ['u%'] };
    expect(await store.countCascades(r, sweep, CONTEXT)).toEqual({ [`${s}.orders`]: 3, [`${s}.items`]: 6 });
    expect(await applyAll(r, sweep)).toMatchObject({ rows: 1, held: 1, cascaded: { [`${s}.orders`]: 3, [`${s}.items`]: 6 } });
    expect((await env.sql<{ user_id: string }>(`SELECT user_id FROM ${s}.users`)).map((u) => u.user_id)).toEqual(['u%']);
    expect((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.items`))[0]!.n).toBe('6');
  });

  it("lists the distinct subjects the rule's filters select, page by page, in the column's own order", async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.events (id bigserial PRIMARY KEY, user_id bigint, kind text NOT NULL, at timestamptz NOT NULL)`);
    // 2,500 people (numbers: a text order would put 10 before 9 and lose the keyset), most
    // with two rows; people with only exports, and rows of nobody, are not listed.
    await env.sql(`INSERT INTO ${s}.events (user_id, kind, at) SELECT g % 2500, 'login', now() FROM generate_series(1, 5000) g`);
    await env.sql(`INSERT INTO ${s}.events (user_id, kind, at) SELECT 100000 + g, 'export', now() FROM generate_series(1, 50) g`);
    await env.sql(`INSERT INTO ${s}.events (user_id, kind, at) SELECT NULL, 'login', now() FROM generate_series(1, 5) g`);
    const pages: (readonly string[])[] = [];
    for await (const page of store.scanSubjects(rule({ where: { kind: 'login' } }))) pages.push(page);
    expect(pages.length).toBe(3);
    expect(pages.every((p) => p.length <= 1000)).toBe(true);
    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.sort()).toEqual(Array.from({ length: 2500 }, (_, i) => String(i)).sort());
  });

  it('names every table a rule\'s rows reference, through others too, so children are erased first', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.parent (id bigint PRIMARY KEY, user_id text, at timestamptz)`);
    await env.sql(`CREATE TABLE ${s}.child (id bigint PRIMARY KEY, parent_id bigint REFERENCES ${s}.parent, user_id text, at timestamptz)`);
    await env.sql(`CREATE TABLE ${s}.grandchild (id bigint PRIMARY KEY, child_id bigint REFERENCES ${s}.child, previous bigint REFERENCES ${s}.grandchild, user_id text, at timestamptz)`);
    const of = (table: string) => store.dependsOn(rule({ id: table, table }));
    expect(await of('grandchild')).toEqual([`${s}.child`, `${s}.parent`]);
    expect(await of('child')).toEqual([`${s}.parent`]);
    expect(await of('parent')).toEqual([]);
  });

  it('also names a referenced table by its bare name when the search path finds it so, as a rule naming it bare is described', async () => {
    const s = env.schema;
    const accounts = `${s}_accounts`; // in public, on the search path; unique to this test
    try {
      await env.sql(`CREATE TABLE public.${accounts} (id bigint PRIMARY KEY)`);
      await env.sql(`CREATE TABLE ${s}.notes (id bigint PRIMARY KEY, account_id bigint REFERENCES public.${accounts}, user_id text, at timestamptz)`);
      expect(await store.dependsOn(rule({ id: 'notes', table: 'notes' }))).toEqual([`public.${accounts}`, accounts]);
    } finally {
      await env.sql(`DROP TABLE IF EXISTS ${s}.notes`);
      await env.sql(`DROP TABLE IF EXISTS public.${accounts}`);
    }
  });

  it('check warns when no index starts with the subject column', async () => {
    await events();
    const warning = async () => (await store.inspect(rule(), 'rules[0]', CONTEXT)).filter((p) => p.path === 'rules[0].subject');
    expect(await warning()).toEqual([expect.objectContaining({ severity: 'warning', message: expect.stringMatching(/no index of .*events starts with column user_id/) })]);
    await env.sql(`CREATE INDEX ON ${env.schema}.events (user_id, at)`);
    expect(await warning()).toEqual([]);
  });
});
