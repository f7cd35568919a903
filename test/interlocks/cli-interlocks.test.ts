import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { spawnCli } from '../cli/cli-harness.js';

/** The real CLI in a child process; resolves with its exit code and output, never throws on non-zero. */
const cli = (args: string[], env: Record<string, string> = {}) => spawnCli(args, { RETENTION_HMAC_KEY: TEST_HMAC_KEY, ...env });

let env: TestEnv;
let file: string;
beforeEach(async () => {
  env = await createTestEnv();
  file = join(tmpdir(), `retention-${env.id}.yaml`);
});
afterEach(async () => {
  rmSync(file, { force: true });
  rmSync(`${file}.old`, { force: true });
  await env.cleanup();
});

async function logsTable(expired: number, fresh: number): Promise<void> {
  await env.sql(`CREATE TABLE IF NOT EXISTS ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, $1::int)`, [expired]);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '1 day' FROM generate_series(1, $1::int)`, [fresh]);
}

const count = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n);
const rule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P6M', action: 'delete', batchSize: 500 };
/** The default limits (20% of the table), not the harness's permissive ones. */
const defaultLimits = { limits: { maxFraction: 0.2 } };

describe('blast-radius limits through the CLI', () => {
  it('blocks a sweep over 20% of the table, touches nothing, audits the block and prints the confirm command', async () => {
    await logsTable(4_500, 500);
    writeFileSync(file, env.configYaml([rule], defaultLimits));
    const blocked = await cli(['run', '--rule', 'logs', '--config', file]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain('would change 4500 of 5000 rows (90%)');
    expect(blocked.stderr).toMatch(/retention run --rule logs --confirm 4500\.[0-9a-f]{10}/);
    expect(blocked.stderr).not.toMatch(/\n\s+at /);
    expect(await count()).toBe(5_000);
    const audit = await env.sql<{ entry: { event: string; rows: number } }>(`SELECT entry FROM ${env.stateSchema}.audit_log ORDER BY seq`);
    expect(audit.map((a) => [a.entry.event, a.entry.rows])).toEqual([['blocked', 4500]]);
    expect((await cli(['audit', 'verify', '--config', file])).code).toBe(0);

    // plan shows the same block and the same token, without running anything.
    const plan = await cli(['plan', '--json', '--config', file]);
    const token = /--confirm (\S+)/.exec(blocked.stderr)![1]!;
    expect(JSON.parse(plan.stdout).rules[0].blocked.confirm).toBe(token);
  });

  it('runs a confirmed sweep and records the confirmation on every batch', async () => {
    await logsTable(4_500, 500);
    writeFileSync(file, env.configYaml([rule], defaultLimits));
    const token = /--confirm (\S+)/.exec((await cli(['run', '--rule', 'logs', '--config', file])).stderr)![1]!;
    const confirmed = await cli(['run', '--rule', 'logs', '--confirm', token, '--json', '--config', file]);
    expect(confirmed.code).toBe(0);
    expect(JSON.parse(confirmed.stdout).rules[0]).toMatchObject({ id: 'logs', affected: 4_500 });
    expect(await count()).toBe(500);
    const tokens = await env.sql<{ t: string | null }>(`SELECT entry->>'confirmToken' AS t FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((t) => t.t === token)).toBe(true);
  });

  it('refuses a confirmation for a smaller sweep than the one about to run', async () => {
    await logsTable(4_500, 500);
    writeFileSync(file, env.configYaml([rule], defaultLimits));
    const token = /--confirm (\S+)/.exec((await cli(['run', '--rule', 'logs', '--config', file])).stderr)![1]!;
    await logsTable(1_000, 0); // the backlog grew since the operator looked
    const again = await cli(['run', '--rule', 'logs', '--confirm', token, '--config', file]);
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('does not cover it');
    expect(again.stderr).toMatch(/--confirm 5500\./);
    expect(await count()).toBe(6_000);
  });

  it('refuses a forged token and a token for another definition of the rule', async () => {
    await logsTable(4_500, 500);
    writeFileSync(file, env.configYaml([rule], defaultLimits));
    const token = /--confirm (\S+)/.exec((await cli(['run', '--rule', 'logs', '--config', file])).stderr)![1]!;
    expect((await cli(['run', '--rule', 'logs', '--confirm', '999999.0000000000', '--config', file])).code).toBe(3);
    // Any change to the rule's definition (what it selects, where, or does), here with the same count.
    writeFileSync(file, env.configYaml([{ ...rule, retain: 'P7M' }], defaultLimits));
    expect((await cli(['run', '--rule', 'logs', '--confirm', token, '--config', file])).code).toBe(3);
    expect(await count()).toBe(5_000);
  });
});

describe('plan --diff', () => {
  it('lists the rows a config change would newly affect before it is deployed', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - make_interval(days => g) FROM generate_series(1, 500) g`);
    writeFileSync(`${file}.old`, env.configYaml([{ ...rule, retain: 'P1Y' }]));
    writeFileSync(file, env.configYaml([rule, { ...rule, id: 'extra', retain: 'P400D' }]));
    const diff = await cli(['plan', '--json', '--diff', `${file}.old`, '--config', file]);
    expect(diff.code).toBe(0);
    const [logs, extra] = JSON.parse(diff.stdout).rules;
    const sixMonthsAgo = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs WHERE at + interval '6 months' <= now()`))[0]!.n);
    const oneYearAgo = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs WHERE at + interval '1 year' <= now()`))[0]!.n);
    expect(logs.diff).toMatchObject({ status: 'changed', before: oneYearAgo, newly: sixMonthsAgo - oneYearAgo, noLonger: 0 });
    expect(extra.diff.status).toBe('new');
    expect(await count()).toBe(500);
  });
});

describe('configs that must be refused', () => {
  it('rejects hostile table, key and column names at check, before any SQL runs', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.canary (id int PRIMARY KEY)`);
    writeFileSync(
      file,
      env.configYaml([
        { id: 'a', table: 'users;DROP TABLE canary--', anchor: 'at', retain: 'P1D', action: 'delete' },
        { id: 'b', table: 'logs', key: 'id"; DROP TABLE canary; --', anchor: 'at', retain: 'P1D', action: 'delete' },
        { id: 'c', table: 'logs', anchor: "at' OR '1'='1", retain: 'P1D', action: 'delete', where: { 'x = 1 OR 1': 1 } },
      ]),
    );
    const checked = await cli(['check', '--config', file]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain(`rules[0].table: "${env.schema}.users;DROP TABLE canary--" is not a valid table name`);
    expect(checked.stderr).toContain('rules[1].key:');
    expect(checked.stderr).toContain('rules[2].anchor:');
    expect(checked.stderr).toContain('rules[2].where.x = 1 OR 1: "x = 1 OR 1" is not a valid column name');
    expect(checked.stderr).not.toMatch(/\n\s+at /);
    expect(await env.sql(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [env.stateSchema])).toEqual([]);
    expect(await env.sql(`SELECT to_regclass($1) AS t`, [`${env.schema}.canary`])).toEqual([{ t: `${env.schema}.canary` }]);
  });

  it('rejects a table in an unknown schema at check, naming the rule', async () => {
    writeFileSync(file, env.configYaml([{ id: 'a', table: 'no_such_schema.logs', anchor: 'at', retain: 'P1D', action: 'delete' }]));
    const checked = await cli(['check', '--config', file]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain('rules[0].table: table no_such_schema.logs does not exist');
  });

  it('keeps the worker from starting on a config that fails check', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at text)`);
    writeFileSync(file, env.configYaml([rule]));
    const worker = await cli(['worker', '--config', file]);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toContain('rules[0].anchor: column at of');
    expect(worker.stderr).toContain('is text');
    expect(await env.sql(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [env.stateSchema])).toEqual([]);
  });

  it('never shows a password from a connection URL', async () => {
    writeFileSync(file, env.configYaml([rule], { state: 'postgres://app:s3cret-pw@127.0.0.1:1/x', stores: { app: { kind: 'postgres', url: 'postgres://app:s3cret-pw@127.0.0.1:1/x' } } }));
    const checked = await cli(['check', '--config', file]);
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain('postgres://app:***@127.0.0.1:1/x');
    expect(checked.stderr + checked.stdout).not.toContain('s3cret-pw');
  });

  it('refuses hmac without a key of at least 32 bytes', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.accounts (id bigserial PRIMARY KEY, closed_at timestamptz, email text)`);
    writeFileSync(file, env.configYaml([{ id: 'acc', table: 'accounts', anchor: 'closed_at', retain: 'P3Y', action: 'anonymize', anonymize: { email: 'hmac' } }]));
    const checked = await cli(['check', '--config', file], { RETENTION_HMAC_KEY: 'too-short' });
    expect(checked.code).toBe(2);
    expect(checked.stderr).toContain('RETENTION_HMAC_KEY');
    expect(checked.stderr).not.toContain('too-short');
  });
});

describe('audit verify', () => {
  it('notices entries cut from the end of the log, which the hash chain alone cannot', async () => {
    await logsTable(300, 100);
    writeFileSync(file, env.configYaml([{ ...rule, batchSize: 100 }]));
    expect((await cli(['run', '--all', '--config', file])).code).toBe(0);
    expect((await cli(['audit', 'verify', '--config', file])).code).toBe(0);
    // An owner of the table removes the last two entries (a batch and the sweep's total).
    await env.sql(`ALTER TABLE ${env.stateSchema}.audit_log DISABLE TRIGGER USER`);
    await env.sql(`DELETE FROM ${env.stateSchema}.audit_log WHERE seq > (SELECT max(seq) - 2 FROM ${env.stateSchema}.audit_log)`);
    const verified = await cli(['audit', 'verify', '--config', file]);
    expect(verified.code).toBe(1);
    // The sweep's closing entry went first in the cut, and is the first thing found missing.
    const [sweep] = await env.sql<{ id: string }>(`SELECT id FROM ${env.stateSchema}.sweeps`);
    expect(verified.stderr).toContain(`sweep ${sweep!.id} is recorded as done but the log has no sweep-finished entry for it (its closing entry was removed)`);
  });
});
