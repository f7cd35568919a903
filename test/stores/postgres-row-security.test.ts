import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, REDIS_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { spawnCli, tempDir } from '../cli/cli-harness.js';
import type { ConfigProblem } from '../../src/errors.js';

/**
 * A swept table with row-level security that applies to retention's role: the rows its
 * policies hide are never seen, so they would be kept past their date while every sweep
 * succeeds. `check` refuses it (a problem, whatever RETENTION_ROLE_WARNINGS says), unless a
 * permissive policy for ALL commands opens every row to the role. Real roles, not mocks.
 */

let env: TestEnv;
let roles: string[];

beforeEach(async () => {
  env = await createTestEnv();
  roles = [];
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.notes (id bigint PRIMARY KEY, tenant int NOT NULL, at timestamptz NOT NULL);
    INSERT INTO ${s}.notes SELECT g, g % 2, now() - interval '100 days' FROM generate_series(1, 6) g;
    CREATE TABLE ${s}.notes_archive (LIKE ${s}.notes INCLUDING ALL);
  `);
});
afterEach(async () => {
  for (const role of roles) {
    await env.sql(`DROP OWNED BY ${pg.escapeIdentifier(role)}`);
    await env.sql(`DROP ROLE ${pg.escapeIdentifier(role)}`);
  }
  await env.cleanup();
});

/** A login role of this test with what a delete or archive rule on notes needs. */
async function workerRole(attributes = ''): Promise<string> {
  const role = `rt_${env.id}_rls`;
  roles.push(role);
  const r = pg.escapeIdentifier(role);
  await env.sql(`CREATE ROLE ${r} LOGIN ${attributes}`);
  await env.sql(`GRANT USAGE ON SCHEMA ${env.schema} TO ${r}; GRANT SELECT, DELETE ON ${env.schema}.notes TO ${r}; GRANT SELECT, INSERT, DELETE ON ${env.schema}.notes_archive TO ${r}`);
  return role;
}

function urlAs(role: string): string {
  const url = new URL(DATABASE_URL);
  url.username = role;
  url.password = '';
  return url.toString();
}

/** The live problems `check` finds for one rule on notes, the store connecting as `role`. */
async function inspect(role: string, rule: Record<string, unknown> = {}): Promise<ConfigProblem[]> {
  const config = env.config([{ id: 'notes-30d', table: 'notes', key: 'id', anchor: 'at', retain: 'P30D', action: 'delete', ...rule }], {
    stores: { app: { kind: 'postgres', url: urlAs(role) } },
  });
  const runtime = await env.runtime(config);
  const only = config.rules[0]!;
  return runtime.storeFor(only).inspect(only, 'rules[0]', runtime.contextFor(only));
}

const refusal = (table: string, role: string) =>
  expect.stringMatching(new RegExp(`^rule notes-30d: table ${env.schema}\\.${table} has row-level security enabled, which applies to role ${role} .*kept past their date.*CREATE POLICY retention_worker_all ON ${env.schema}\\.${table} TO ${role} USING \\(true\\)`));

describe('row-level security on a swept table', () => {
  it('the role really sees fewer rows: refused, naming rule, table and role', async () => {
    const role = await workerRole();
    await env.sql(`ALTER TABLE ${env.schema}.notes ENABLE ROW LEVEL SECURITY; CREATE POLICY only_tenant_1 ON ${env.schema}.notes USING (tenant = 1)`);
    const seen = new pg.Client({ connectionString: urlAs(role) });
    await seen.connect();
    try {
      expect(Number((await seen.query(`SELECT count(*) AS n FROM ${env.schema}.notes`)).rows[0].n)).toBe(3);
    } finally {
      await seen.end();
    }
    expect(await inspect(role)).toEqual([{ path: 'rules[0].table', message: refusal('notes', role) }]);
  });

  it('refused with RLS on and no policy at all (the role sees nothing), and with FORCE for an owner', async () => {
    const role = await workerRole();
    await env.sql(`ALTER TABLE ${env.schema}.notes ENABLE ROW LEVEL SECURITY`);
    expect(await inspect(role)).toEqual([{ path: 'rules[0].table', message: refusal('notes', role) }]);
    // The owner is exempt from its table's RLS (warned of as an owner elsewhere), until FORCE.
    await env.sql(`ALTER TABLE ${env.schema}.notes OWNER TO ${pg.escapeIdentifier(role)}`);
    expect(await inspect(role)).toEqual([]);
    await env.sql(`ALTER TABLE ${env.schema}.notes FORCE ROW LEVEL SECURITY`);
    expect(await inspect(role)).toEqual([{ path: 'rules[0].table', message: refusal('notes', role) }]);
  });

  it('accepted with a permissive policy for ALL commands USING (true) to the role; not when it is for SELECT only or a restrictive one applies', async () => {
    const role = await workerRole();
    const r = pg.escapeIdentifier(role);
    await env.sql(`ALTER TABLE ${env.schema}.notes ENABLE ROW LEVEL SECURITY; CREATE POLICY only_tenant_1 ON ${env.schema}.notes USING (tenant = 1)`);
    await env.sql(`CREATE POLICY reads ON ${env.schema}.notes FOR SELECT TO ${r} USING (true)`);
    expect(await inspect(role)).toEqual([{ path: 'rules[0].table', message: refusal('notes', role) }]);
    await env.sql(`CREATE POLICY retention_worker_all ON ${env.schema}.notes TO ${r} USING (true)`);
    expect(await inspect(role)).toEqual([]);
    await env.sql(`CREATE POLICY narrow ON ${env.schema}.notes AS RESTRICTIVE TO ${r} USING (tenant = 1)`);
    expect(await inspect(role)).toEqual([{ path: 'rules[0].table', message: expect.stringContaining('a restrictive policy applies to it') }]);
  });

  it('a BYPASSRLS role is not subject to it: no problem here (check warns of the attribute)', async () => {
    const role = await workerRole('BYPASSRLS');
    await env.sql(`ALTER TABLE ${env.schema}.notes ENABLE ROW LEVEL SECURITY`);
    expect(await inspect(role)).toEqual([]);
  });

  it("an archive rule's archive table is checked too", async () => {
    const role = await workerRole();
    await env.sql(`ALTER TABLE ${env.schema}.notes_archive ENABLE ROW LEVEL SECURITY`);
    const problems = await inspect(role, { action: 'archive', archiveTable: `${env.schema}.notes_archive` });
    // (The warning that no rule sweeps the archive is not this test's concern.)
    expect(problems.filter((p) => p.severity !== 'warning')).toEqual([{ path: 'rules[0].archiveTable', message: refusal('notes_archive', role) }]);
  });

  it('check fails and run refuses, whatever RETENTION_ROLE_WARNINGS says, and the hidden expired rows are not silently kept as "done"', async () => {
    const role = await workerRole();
    await env.sql(`ALTER TABLE ${env.schema}.notes ENABLE ROW LEVEL SECURITY; CREATE POLICY only_tenant_1 ON ${env.schema}.notes USING (tenant = 1)`);
    const files = tempDir();
    try {
      const file = files.write('retention.yaml', env.configYaml([{ id: 'notes-30d', table: 'notes', key: 'id', anchor: 'at', retain: 'P30D', action: 'delete' }], { stores: { app: { kind: 'postgres', url: urlAs(role) } } }));
      const childEnv = { REDIS_URL, RETENTION_HMAC_KEY: TEST_HMAC_KEY, RETENTION_ROLE_WARNINGS: 'off' };
      const check = await spawnCli(['check', '--config', file], childEnv);
      expect(check.code).not.toBe(0);
      expect(check.stderr).toContain(`rules[0].table: rule notes-30d: table ${env.schema}.notes has row-level security enabled, which applies to role ${role}`);
      const run = await spawnCli(['run', '--all', '--config', file], childEnv);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain('row-level security');
      // Nothing deleted: not the visible rows either (the run refused before sweeping).
      expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.notes`))[0]!.n)).toBe(6);
    } finally {
      files.remove();
    }
  });
});
