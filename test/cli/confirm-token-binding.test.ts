import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { spawnCli, tempDir } from './cli-harness.js';

/**
 * Issue 7, class 7: a confirmation token was bound to the config file's bytes, so a token
 * issued for `table: ${TBL:-...}` confirmed a sweep of another table once TBL changed.
 * Tokens are bound to the rule as resolved (its definition hash).
 */

const cli = (args: string[], vars: Record<string, string> = {}) => spawnCli(args, { RETENTION_HMAC_KEY: TEST_HMAC_KEY, ...vars });

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  for (const table of ['orders_a', 'orders_b']) {
    await env.sql(`CREATE TABLE ${env.schema}.${table} (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.${table} (at) SELECT now() - interval '2 years' FROM generate_series(1, 10)`);
  }
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const count = async (table: string) => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.${table}`))[0]!.n);

describe('confirmation tokens', () => {
  it('do not confirm a sweep of another table after an environment variable in the rule changed', async () => {
    // One file: the table comes from $TBL. Every sweep of 10 rows is over maxRowsPerRun 5.
    const rule = { id: 'orders', table: `${env.schema}.\${TBL:-orders_a}`, anchor: 'at', retain: 'P1D', action: 'delete', limits: { maxRowsPerRun: 5 } };
    const file = files.write('retention.yaml', env.configYaml([rule]));
    const plan = await cli(['plan', '--json', '--config', file]);
    expect(plan.code).toBe(0);
    const token = JSON.parse(plan.stdout).rules[0].blocked.confirm as string;
    expect(token).toMatch(/^10\.[0-9a-f]{10}$/);

    const other = await cli(['run', '--rule', 'orders', '--confirm', token, '--config', file], { TBL: 'orders_b' });
    expect(other.stderr).toContain('does not cover it');
    expect(other.code).toBe(3);
    expect(await count('orders_b')).toBe(10);

    // The same token still confirms the rule it was issued for.
    const same = await cli(['run', '--rule', 'orders', '--confirm', token, '--config', file]);
    expect(same.code).toBe(0);
    expect(await count('orders_a')).toBe(0);
    expect(await count('orders_b')).toBe(10);
  });
});
