import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { inspectRole } from '../../src/stores/postgres/role-privileges.js';

/**
 * The role warnings of src/stores/postgres/role-privileges.ts for what a role holds
 * through role membership: the predefined pg_write_all_data / pg_read_all_data roles, and
 * a table owned by a role it is a member of without inheriting (it can SET ROLE to it).
 * Real roles on the test server; test/cli/role-warnings.test.ts covers the attributes.
 */

let env: TestEnv;
let roles: string[];
let serverVersion: number;

beforeEach(async () => {
  env = await createTestEnv();
  roles = [];
  serverVersion = Number((await env.sql<{ v: string }>('SHOW server_version_num'))[0]!.v);
  await env.sql(`CREATE TABLE ${env.schema}.notes (id bigint PRIMARY KEY, at timestamptz NOT NULL)`);
});
afterEach(async () => {
  for (const role of roles.reverse()) {
    await env.sql(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
    await env.sql(`DROP ROLE ${pg.escapeIdentifier(role)}`);
  }
  await env.cleanup();
});

async function newRole(suffix: string, attributes = 'LOGIN'): Promise<string> {
  const role = `rt_${env.id}_${suffix}`;
  roles.push(role);
  await env.sql(`CREATE ROLE ${pg.escapeIdentifier(role)} ${attributes}`);
  return role;
}

/** inspectRole's messages, connected as `role`, for a rule on notes at rules[0].table. */
async function warningsAs(role: string): Promise<string[]> {
  const url = new URL(DATABASE_URL);
  url.username = role;
  url.password = '';
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const found = await inspectRole(client, 'state', [{ table: { schema: env.schema, name: 'notes' }, path: 'rules[0].table' }]);
    return found.map((p) => `${p.path}: ${p.message}`);
  } finally {
    await client.end();
  }
}

describe('role warnings through membership', () => {
  it('warns of pg_write_all_data and pg_read_all_data (PostgreSQL 14+)', async (context) => {
    if (serverVersion < 140000) context.skip();
    const role = await newRole('alldata');
    await env.sql(`GRANT pg_write_all_data, pg_read_all_data TO ${pg.escapeIdentifier(role)}`);
    const warnings = await warningsAs(role);
    expect(warnings).toEqual([
      expect.stringMatching(new RegExp(`^state: connects to database \\w+ as ${role}, a member of pg_write_all_data: it can INSERT, UPDATE and DELETE in every table`)),
      expect.stringMatching(new RegExp(`^state: connects to database \\w+ as ${role}, a member of pg_read_all_data: it can read every table`)),
    ]);
  });

  it('warns of a swept table owned by a role it is a member of without inheriting it (it can SET ROLE to the owner)', async () => {
    const owner = await newRole('owner', 'NOLOGIN');
    const worker = await newRole('worker', 'LOGIN NOINHERIT');
    await env.sql(`GRANT USAGE ON SCHEMA ${env.schema} TO ${pg.escapeIdentifier(worker)}; ALTER TABLE ${env.schema}.notes OWNER TO ${pg.escapeIdentifier(owner)}; GRANT ${pg.escapeIdentifier(owner)} TO ${pg.escapeIdentifier(worker)}`);
    expect(await warningsAs(worker)).toEqual([expect.stringMatching(new RegExp(`^rules\\[0\\]\\.table: connects to database \\w+ as ${worker}, which owns ${env.schema}\\.notes: `))]);
  });

  it('a plain role with only grants is warned of nothing', async () => {
    const role = await newRole('plain');
    await env.sql(`GRANT USAGE ON SCHEMA ${env.schema} TO ${pg.escapeIdentifier(role)}; GRANT SELECT, DELETE ON ${env.schema}.notes TO ${pg.escapeIdentifier(role)}`);
    expect(await warningsAs(role)).toEqual([]);
  });
});
