import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { lines, spawnCli, tempDir, untouched } from './cli-harness.js';

/**
 * The real `retention` command in a child process, for a representative few mistakes: what
 * a user sees on the terminal, and the exit code a script sees. Each spawn costs about a
 * second, so the rest of the catalogue runs in-process (main-errors.test.ts).
 */

const ROWS = 50;
let env: TestEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  // Every row is long expired under the rules below: a sweep that ran would delete them all.
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '2 years' FROM generate_series(1, ${ROWS})`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' };

/** A user mistake: exit 2, exactly one line of message, no stack trace. */
function expectOneMessage(outcome: { code: number; stderr: string }): string {
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).not.toContain('    at ');
  const errorLines = lines(outcome.stderr);
  expect(errorLines).toHaveLength(1);
  return errorLines[0]!;
}

describe('the retention command, run as a user runs it', () => {
  it('names the file, line and column of a YAML syntax error', async () => {
    const file = files.write('retention.yaml', 'redis: redis://127.0.0.1:6379\nrules: [\n  - id: logs\n');
    const message = expectOneMessage(await spawnCli(['check', '--config', file]));
    expect(message).toMatch(new RegExp(`^retention: ${file}: YAML syntax: .+ at line \\d+, column \\d+$`));
  });

  it('says which config file is missing and how to name another', async () => {
    const file = `${files.dir}/nowhere.yaml`;
    const message = expectOneMessage(await spawnCli(['plan', '--config', file]));
    expect(message).toBe(`retention: config file not found: ${file} (set it with --config PATH or $RETENTION_CONFIG)`);
  });

  it('refuses `run` without --rule or --all and touches nothing', async () => {
    const file = files.write('retention.yaml', env.configYaml([logsRule]));
    const message = expectOneMessage(await spawnCli(['run', '--config', file]));
    expect(message).toBe('retention: say which rules to sweep: --rule ID or --all');
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  });

  it('names an unreachable Redis, the variable its URL came from, and hides the password', async () => {
    const file = files.write('retention.yaml', env.configYaml([logsRule], { redis: `\${REDIS_URL:-${REDIS_URL}}` }));
    const outcome = await spawnCli(['run', '--all', '--config', file], { REDIS_URL: 'redis://default:s3cret-pw@127.0.0.1:1' });
    const message = expectOneMessage(outcome);
    expect(message).toBe(
      `retention: ${file}: redis: cannot connect to Redis at redis://default:***@127.0.0.1:1 (redis in ${file}, from $REDIS_URL): connect ECONNREFUSED 127.0.0.1:1`,
    );
    expect(outcome.stderr + outcome.stdout).not.toContain('s3cret-pw');
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  });

  it('names an unreachable PostgreSQL once, with the variable its URL came from and the password hidden', async () => {
    const url = `\${DATABASE_URL:-${DATABASE_URL}}`;
    const file = files.write('retention.yaml', env.configYaml([logsRule], { state: url, stores: { app: { kind: 'postgres', url } } }));
    const outcome = await spawnCli(['run', '--all', '--config', file], { DATABASE_URL: 'postgres://postgres:s3cret-pw@127.0.0.1:1/x' });
    const message = expectOneMessage(outcome);
    expect(message).toContain(`retention: ${file}: state: cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:1/x (state in ${file}, from $DATABASE_URL)`);
    expect(message).toContain('ECONNREFUSED');
    expect(outcome.stderr + outcome.stdout).not.toContain('s3cret-pw');
    // The real database was never the target; it still holds everything.
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  });

  it('rejects a retention period in words with the exact rule and field', async () => {
    const file = files.write('retention.yaml', env.configYaml([{ ...logsRule, retain: '6 months' }]));
    const message = expectOneMessage(await spawnCli(['run', '--all', '--config', file]));
    expect(message).toBe(
      `retention: ${file}: rules[0].retain: "6 months" is not an ISO-8601 duration, e.g. P6M, P180D, P3Y or PT12H (whole numbers only)`,
    );
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  });
});
