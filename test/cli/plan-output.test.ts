import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from './cli-harness.js';

/** Issue 7, smaller defects of `plan`: --diff with a Redis rule, --diff of a missing file, --now in the future. */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '2 years' FROM generate_series(1, 10)`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' };

describe('plan', () => {
  it('--diff of a config with itself reports every rule unchanged, a Redis rule too', async () => {
    const sessions = { id: 'sessions', store: 'cache', keys: `h1-plan-${env.id}:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P1D', action: 'delete' };
    const stores = { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: REDIS_URL } };
    const file = files.write('a.yaml', env.configYaml([logsRule, sessions], { stores }));
    const outcome = await runMain(['plan', '--json', '--diff', file, '--config', file]);
    expect(outcome.stderr).toBe('');
    const rules = JSON.parse(outcome.stdout).rules as { id: string; diff: { status: string; newly: number; noLonger: number } }[];
    expect(rules.map((r) => [r.id, r.diff.status, r.diff.newly, r.diff.noLonger])).toEqual([
      ['logs', 'unchanged', 0, 0],
      ['sessions', 'unchanged', 0, 0],
    ]);
  });

  it('--diff of a missing file names --diff, not --config', async () => {
    const file = files.write('a.yaml', env.configYaml([logsRule]));
    const outcome = await runMain(['plan', '--diff', `${files.dir}/missing.yaml`, '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toBe(`retention: --diff: config file not found: ${files.dir}/missing.yaml`);
  });

  it('--now in the future words a blocked sweep for that instant and says a run judges at the database clock', async () => {
    const file = files.write('a.yaml', env.configYaml([{ ...logsRule, limits: { maxRowsPerRun: 5 } }]));
    const outcome = await runMain(['plan', '--now', '2030-01-01T00:00:00Z', '--config', file]);
    expect(outcome.code).toBe(0);
    expect(outcome.stdout).not.toContain('a sweep now');
    expect(outcome.stdout).toContain('logs: a sweep at 2030-01-01T00:00:00.000Z (--now) would change 10 rows, more than maxRowsPerRun 5');
    expect(outcome.stdout).toContain(`A run judges expiry at the state database's clock when it runs, not at --now; run "retention plan --rule logs" without --now for a token a run now takes.`);
    // Without --now: the usual wording, for a sweep now.
    const now = await runMain(['plan', '--config', file]);
    expect(now.stdout).toContain('logs: a sweep now would change 10 rows, more than maxRowsPerRun 5');
  });
});
