import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import type { BatchResult } from '../../src/stores/store.js';
import { expired } from '../../src/stores/selection.js';

/**
 * A batch whose statement fails on one row's data leaves that row, changes the others and
 * reports it: one bad row does not keep the good ones, sweep after sweep.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/** Applies one batch covering the whole table, as a worker would. */
async function applyWhole(rule: Record<string, unknown>): Promise<BatchResult> {
  const config = env.config([{ id: 'r', retain: 'P30D', ...rule }]);
  const runtime = await env.runtime(config);
  const only = config.rules[0]!;
  const { ranges } = planSweep(only, new Date());
  return runtime.storeFor(only).apply({ rule: only, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context: runtime.contextFor(only) });
}

const ids = async (table: string) => (await env.sql<{ id: string }>(`SELECT t.id::text AS id FROM ${env.schema}.${table} t ORDER BY t.id`)).map((r) => r.id);

describe('a batch with rows the statement fails on', () => {
  it('deletes the other rows and reports the one a NO ACTION foreign key still points at', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, email text, at timestamptz)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint REFERENCES ${env.schema}.users)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT g, 'user' || g || '@example.com', now() - interval '400 days' FROM generate_series(1, 10) g`);
    await env.sql(`INSERT INTO ${env.schema}.users VALUES (11, 'recent@example.com', now())`);
    await env.sql(`INSERT INTO ${env.schema}.invoices (user_id) VALUES (7)`);

    const result = await applyWhole({ table: 'users', anchor: 'at', action: 'delete' });

    expect(result.rows).toBe(9);
    expect(result.skipped).toEqual([{ key: '7', reason: expect.stringMatching(/violates foreign key constraint "invoices_user_id_fkey".*SQLSTATE 23503/) }]);
    // The reason is recorded: PostgreSQL's DETAIL, which quotes the row's values, is left out.
    expect(result.skipped![0]!.reason).not.toMatch(/Key \(|=\(7\)/);
    expect(await ids('users')).toEqual(['7', '11']);
  });

  it('keeps a date anchor too far ahead for a timestamp, without failing on it (it is not expired)', async () => {
    // Such a date once failed the batch's statement (reading it as a timestamp overflows)
    // and was isolated and reported as skipped; the anchor's index bound (a plain date
    // comparison, cheaper, so evaluated first) now leaves it out before it is read so.
    await env.sql(`CREATE TABLE ${env.schema}.visits (id int PRIMARY KEY, day date)`);
    await env.sql(`INSERT INTO ${env.schema}.visits SELECT g, current_date - 400 FROM generate_series(1, 6) g`);
    await env.sql(`INSERT INTO ${env.schema}.visits VALUES (7, '300000-01-01'), (8, current_date)`);

    const result = await applyWhole({ table: 'visits', anchor: 'day', action: 'delete' });

    expect(result.rows).toBe(6);
    expect(result.skipped ?? []).toEqual([]);
    expect(await ids('visits')).toEqual(['7', '8']);
  });

  it('anonymizes the other rows and reports the one whose new value collides with a unique index', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.people (id int PRIMARY KEY, at timestamptz, nick text UNIQUE)`);
    await env.sql(`INSERT INTO ${env.schema}.people VALUES (1, now() - interval '400 days', 'ada'), (2, now() - interval '400 days', 'bob'), (3, now() - interval '400 days', NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.people VALUES (4, now(), '[redacted]')`);

    const result = await applyWhole({ table: 'people', anchor: 'at', action: 'anonymize', anonymize: { nick: 'redact' } });

    expect(result.rows).toBe(0);
    expect(result.skipped?.map((s) => s.key)).toEqual(['1', '2']);
    expect(result.skipped![0]!.reason).toMatch(/duplicate key value violates unique constraint "people_nick_key"/);
  });

  it('fails the batch as a whole, changing nothing, when more rows fail than a few bad ones explain', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, at timestamptz)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint REFERENCES ${env.schema}.users)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT g, now() - interval '400 days' FROM generate_series(1, 300) g`);
    await env.sql(`INSERT INTO ${env.schema}.invoices (user_id) SELECT g FROM generate_series(1, 200) g`);

    await expect(applyWhole({ table: 'users', anchor: 'at', action: 'delete' })).rejects.toThrow(/more than 100 rows of this batch fail/);
    expect(await ids('users')).toHaveLength(300);
  });

  it('checks deferred constraints at the statement, so a row breaking one is isolated rather than failing the commit', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, at timestamptz)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint REFERENCES ${env.schema}.users DEFERRABLE INITIALLY DEFERRED)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT g, now() - interval '400 days' FROM generate_series(1, 5) g`);
    await env.sql(`INSERT INTO ${env.schema}.invoices (user_id) VALUES (2)`);

    const result = await applyWhole({ table: 'users', anchor: 'at', action: 'delete' });

    expect(result.rows).toBe(4);
    expect(result.skipped?.map((s) => s.key)).toEqual(['2']);
    expect(await ids('users')).toEqual(['2']);
  });
});

describe('rows whose anchor cannot be judged', () => {
  it('counts the rows the filters select whose anchor is NULL, and reports nothing when there are none', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.sessions (id int PRIMARY KEY, at timestamptz, kind text)`);
    await env.sql(`INSERT INTO ${env.schema}.sessions VALUES (1, NULL, 'web'), (2, NULL, 'web'), (3, NULL, 'api'), (4, now(), 'web')`);
    const config = env.config([
      { id: 'web', table: 'sessions', anchor: 'at', retain: 'P30D', action: 'delete', where: { kind: 'web' } },
      { id: 'api-dated', table: 'sessions', anchor: 'at', retain: 'P30D', action: 'delete', where: { kind: 'api', at: { not: null } } },
    ]);
    const runtime = await env.runtime(config);
    const [web, apiDated] = config.rules;
    expect(await runtime.storeFor(web!).unjudged(web!)).toEqual({ 'null anchor': 2 });
    expect(await runtime.storeFor(apiDated!).unjudged(apiDated!)).toEqual({});
  });
});

describe('a batch whose statement itself is wrong', () => {
  it('fails as a whole, changing and skipping nothing, when the failure is no row\'s (a value its column cannot take)', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, at timestamptz, tenant int)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT g, now() - interval '400 days', 1 FROM generate_series(1, 5) g`);
    // `check` refuses this filter; a batch must not treat it as five bad rows either.
    await expect(applyWhole({ table: 'users', anchor: 'at', action: 'delete', where: { tenant: 'abc' } })).rejects.toMatchObject({ code: '22P02' });
    expect(await ids('users')).toHaveLength(5);
  });
});

describe('a sweep over a row a foreign key still points at', () => {
  it('finishes, deleting every other expired row, and audits the row it left without its raw key', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigint PRIMARY KEY, at timestamptz)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint REFERENCES ${env.schema}.users)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT g, now() - interval '400 days' FROM generate_series(1000001, 1000300) g`);
    await env.sql(`INSERT INTO ${env.schema}.invoices (user_id) VALUES (1000150)`);

    const [result] = await env.run(env.config([{ id: 'users', table: 'users', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100 }]));

    expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 299 });
    expect(await ids('users')).toEqual(['1000150']);
    const audit = JSON.stringify(await env.sql(`SELECT entry FROM ${env.stateSchema}.audit_log`));
    expect(audit).toMatch(/invoices_user_id_fkey/);
    expect(audit).not.toMatch(/1000150/);
  });
});
