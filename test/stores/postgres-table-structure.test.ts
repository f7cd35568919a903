import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import type { ConfigProblem } from '../../src/errors.js';

/**
 * `check` reads the table's structure and refuses what a sweep could not do: a key some
 * rows lie outside of, deletes that foreign keys forbid, writes an UPDATE cannot make.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/** The live problems `check` finds for one rule. */
async function inspect(rule: Record<string, unknown>): Promise<ConfigProblem[]> {
  const config = env.config([{ id: 'r', anchor: 'at', retain: 'P30D', action: 'delete', ...rule }]);
  const runtime = await env.runtime(config);
  const only = config.rules[0]!;
  return runtime.storeFor(only).inspect(only, 'rules[0]', runtime.contextFor(only));
}

describe('the batch key', () => {
  it('refuses a unique key column that allows NULL, whose NULL rows no batch would ever reach', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, token text UNIQUE, at timestamptz)`);
    const problems = await inspect({ table: 'events', key: 'token' });
    expect(problems).toEqual([
      { path: 'rules[0].key', message: expect.stringMatching(/column token of t_\w+\.events allows NULL.*never be swept.*usable here: id/) },
    ]);
  });

  it('accepts the same unique column once it is NOT NULL', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, token text NOT NULL UNIQUE, at timestamptz)`);
    expect(await inspect({ table: 'events', key: 'token' })).toEqual([]);
  });

  it('names a composite primary key and says why it cannot chunk batches, instead of "unique: none"', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.memberships (tenant int, member int, at timestamptz, PRIMARY KEY (tenant, member))`);
    const problems = await inspect({ table: 'memberships', key: 'tenant' });
    expect(problems).toHaveLength(1);
    expect(problems[0]!.path).toBe('rules[0].key');
    expect(problems[0]!.message).toMatch(/usable here: none/);
    expect(problems[0]!.message).toMatch(/the primary key memberships_pkey \(tenant, member\) spans several columns and cannot be a batch key/);
    expect(problems[0]!.message).not.toMatch(/unique: none/);
  });
});

describe('deletes that foreign keys forbid', () => {
  it('reports a table referenced with ON DELETE NO ACTION or RESTRICT, naming the referencing table and constraint', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint CONSTRAINT invoices_user_fk REFERENCES ${env.schema}.users)`);
    await env.sql(`CREATE TABLE ${env.schema}.tickets (id bigserial PRIMARY KEY, user_id bigint CONSTRAINT tickets_user_fk REFERENCES ${env.schema}.users ON DELETE RESTRICT)`);
    const problems = await inspect({ table: 'users' });
    expect(problems.map((p) => p.path)).toEqual(['rules[0].table', 'rules[0].table']);
    expect(problems[0]!.message).toMatch(new RegExp(`^${env.schema}\\.invoices references ${env.schema}\\.users through foreign key invoices_user_fk \\(user_id\\) with ON DELETE NO ACTION`));
    expect(problems[1]!.message).toMatch(new RegExp(`^${env.schema}\\.tickets references ${env.schema}\\.users through foreign key tickets_user_fk \\(user_id\\) with ON DELETE RESTRICT`));
  });

  it('does not hold a referencing table against an anonymize rule, which deletes nothing', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id bigserial PRIMARY KEY, at timestamptz, email text)`);
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id bigserial PRIMARY KEY, user_id bigint REFERENCES ${env.schema}.users)`);
    expect(await inspect({ table: 'users', action: 'anonymize', anonymize: { email: 'hmac' } })).toEqual([]);
  });
});

describe('columns an anonymizing UPDATE cannot write', () => {
  it('refuses a generated column, a unique column under redact, and a foreign key column under hmac', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.owners (code text PRIMARY KEY)`);
    await env.sql(
      `CREATE TABLE ${env.schema}.people (
         id bigserial PRIMARY KEY, at timestamptz,
         email text, email_lower text GENERATED ALWAYS AS (lower(email)) STORED,
         handle text UNIQUE, owner text REFERENCES ${env.schema}.owners, nick text UNIQUE)`,
    );
    const problems = await inspect({
      table: 'people',
      action: 'anonymize',
      anonymize: { email_lower: 'hmac', handle: 'redact', owner: 'hmac', nick: 'null' },
    });
    expect(problems.map((p) => p.path)).toEqual(['rules[0].anonymize.email_lower', 'rules[0].anonymize.handle', 'rules[0].anonymize.owner']);
    expect(problems[0]!.message).toMatch(/email_lower .* is a generated column .*an UPDATE cannot set it/);
    expect(problems[1]!.message).toMatch(/handle .* is in unique index people_handle_key \(handle\); "redact" writes the same marker to every row/);
    expect(problems[2]!.message).toMatch(/owner .* is in foreign key people_owner_fkey to t_\w+\.owners/);
  });
});
