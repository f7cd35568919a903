import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/stores/postgres/connect.js';
import { PostgresStore } from '../../src/stores/postgres/postgres-store.js';
import { everything, exceptHeld, expired, type Selection } from '../../src/stores/selection.js';
import { sqlRule, type SqlRule } from '../../src/stores/sql/sql-target.js';
import { createTestEnv, DATABASE_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * A sunset's selection (`all`) on PostgreSQL, against the real database: every row the
 * rule's filters select whatever its anchor (old, new, NULL, a wall-clock `date` read in a
 * zone), none outside the filters, held subjects' rows kept and counted, key ranges that
 * cover the whole table, and the rows no rule's filters select counted (`countOutside`).
 */

const CONTEXT = { hmacKey: Buffer.from(TEST_HMAC_KEY), timezone: 'UTC' };

let env: TestEnv;
let db: Database;
let store: PostgresStore;
beforeEach(async () => {
  env = await createTestEnv();
  db = createDatabase(DATABASE_URL, { origin: 'test' });
  store = new PostgresStore('app', db);
  // 250 rows per status: anchors cycle through 5 years ago, yesterday, next year, NULL.
  await env.sql(`CREATE TABLE ${env.schema}.accounts (id bigserial PRIMARY KEY, uid text, status text, closed_at timestamptz, closed_on date, email text)`);
  await env.sql(
    `INSERT INTO ${env.schema}.accounts (uid, status, closed_at, closed_on, email)
     SELECT 'u' || (g % 5), (ARRAY['closed', 'open'])[(g / 4) % 2 + 1],
            (ARRAY[now() - interval '5 years', now() - interval '1 day', now() + interval '1 year', NULL])[g % 4 + 1],
            (ARRAY[current_date - 2000, current_date, NULL, current_date + 400])[g % 4 + 1], 'e' || g || '@x.test'
       FROM generate_series(1, 500) g`,
  );
});
afterEach(async () => {
  await store.close();
  await env.cleanup();
});

function rule(extra: Record<string, unknown> = {}): SqlRule {
  return sqlRule(env.config([{ id: 'accounts', table: 'accounts', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid', where: { status: 'closed' }, batchSize: 100, ...extra }]).rules[0]!);
}

async function rows(where: string, values: unknown[] = []): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.accounts WHERE ${where}`, values))[0]!.n);
}

async function applyAll(r: SqlRule, selection: Selection): Promise<{ rows: number; held: number; batches: number }> {
  const ranges = await store.partition(r, selection);
  const total = { rows: 0, held: 0, batches: ranges.length };
  for (const keyRange of ranges) {
    const result = await store.apply({ rule: r, selection, keyRange, dryRun: false, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
  }
  return total;
}

describe('postgres: a sunset selects every row of the rule, whatever its age', () => {
  it('counts and deletes every row its filters select, NULL and future anchors included, in short batches covering the table', async () => {
    const selected = await rows(`status = 'closed'`);
    expect(selected).toBe(251);
    expect(await rows(`status = 'closed' AND closed_at IS NULL`)).toBeGreaterThan(0);
    // A sweep would take a fraction of them; the sunset takes them all.
    expect(await store.count(rule(), expired([{ from: null, to: Date.now() }]), CONTEXT)).toBeLessThan(selected);
    expect(await store.count(rule(), everything(), CONTEXT)).toBe(selected);
    const done = await applyAll(rule(), everything());
    expect(done.rows).toBe(selected);
    expect(done.batches).toBeGreaterThanOrEqual(5);
    expect(await rows(`status = 'closed'`)).toBe(0);
    expect(await rows('true')).toBe(500 - selected);
  });

  it('reads a wall-clock date anchor the same way: every row, whatever date or none', async () => {
    const onDate = rule({ anchor: 'closed_on', anchorZone: 'Europe/Berlin' });
    const selected = await rows(`status = 'closed'`);
    expect(await rows(`status = 'closed' AND closed_on IS NULL`)).toBeGreaterThan(0);
    expect(await store.count(onDate, everything(), CONTEXT)).toBe(selected);
    expect((await applyAll(onDate, everything())).rows).toBe(selected);
    expect(await rows(`status = 'closed'`)).toBe(0);
  });

  it('keeps held subjects\' rows, counts them, and refuses a hold on a rule that cannot tell whose its rows are', async () => {
    const selected = await rows(`status = 'closed'`);
    const heldRows = await rows(`status = 'closed' AND uid IN ('u1', 'u2')`);
    expect(heldRows).toBeGreaterThan(0);
    const selection = exceptHeld(everything(), ['u1', 'u2']);
    expect(await store.count(rule(), selection, CONTEXT)).toBe(selected - heldRows);
    expect(await applyAll(rule(), selection)).toMatchObject({ rows: selected - heldRows, held: heldRows });
    expect(await rows(`status = 'closed'`)).toBe(heldRows);
    const nobody = rule({ subject: undefined });
    await expect(store.count(nobody, selection, CONTEXT)).rejects.toThrow(/declares no subject column, so it cannot leave the rows of 2 held subject/);
  });

  it('anonymizes every selected row not yet anonymized, whatever its age', async () => {
    const anon = rule({ action: 'anonymize', anonymize: { email: 'null' }, where: undefined });
    await env.sql(`UPDATE ${env.schema}.accounts SET email = NULL WHERE id % 10 = 0`);
    expect(await store.count(anon, everything(), CONTEXT)).toBe(450);
    expect((await applyAll(anon, everything())).rows).toBe(450);
    expect(await rows('email IS NOT NULL')).toBe(0);
    expect(await rows('true')).toBe(500);
  });

  it('counts the rows no rule\'s filters select, NULLs in a filter column among them', async () => {
    await env.sql(`UPDATE ${env.schema}.accounts SET status = NULL WHERE id % 50 = 0`);
    const closed = rule();
    const open = rule({ id: 'open', where: { status: 'open' } });
    expect(await store.countOutside([closed])).toBe(await rows(`status IS DISTINCT FROM 'closed'`));
    expect(await store.countOutside([closed, open])).toBe(await rows('status IS NULL'));
    expect(await rows('status IS NULL')).toBe(10);
    expect(await store.countOutside([rule({ where: undefined })])).toBe(0);
  });
});
