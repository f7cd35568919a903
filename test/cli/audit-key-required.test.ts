import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, spawnCli, tempDir, untouched } from './cli-harness.js';

/**
 * $RETENTION_AUDIT_KEY keys the audit chain. A command that would append to or verify the
 * log without it (run, worker, audit verify, audit checkpoint) is refused before it
 * touches anything; `check` names it as a problem; `plan` and `audit list` need no key.
 */

const ROWS = 30;
let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let configFile: string;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '2 years' FROM generate_series(1, ${ROWS})`);
  configFile = files.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' }]));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  files.remove();
  await env.cleanup();
});

const nothingTouched = async () => expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });

describe('without the audit key', () => {
  it.each([
    ['not set', '', /RETENTION_AUDIT_KEY is not set/],
    ['too short', 'short-key', /RETENTION_AUDIT_KEY is 9 bytes/],
  ])('refuses `run` when the key is %s, touching nothing', async (_case, key, message) => {
    const outcome = await spawnCli(['run', '--all', '--config', configFile], { RETENTION_AUDIT_KEY: key, RETENTION_HMAC_KEY: TEST_HMAC_KEY });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(message);
    expect(outcome.stderr).toMatch(/at least 32 bytes/);
    expect(outcome.stderr).not.toContain('    at ');
    await nothingTouched();
  });

  it('refuses to start a worker', async () => {
    // A worker that started would run until stopped: give it 20 s to refuse.
    const outcome = await spawnCli(['worker', '--config', configFile], { RETENTION_AUDIT_KEY: '' }, { timeoutMs: 20_000 });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toMatch(/RETENTION_AUDIT_KEY is not set/);
    await nothingTouched();
  });

  it.each([['audit', 'verify'], ['audit', 'checkpoint']])('refuses `%s %s`', async (...command) => {
    vi.stubEnv('RETENTION_AUDIT_KEY', '');
    const outcome = await runMain([...command, '--config', configFile]);
    expect(outcome.code).toBe(2);
    expect(lines(outcome.stderr)).toEqual([expect.stringMatching(/^retention: RETENTION_AUDIT_KEY is not set/)]);
    await nothingTouched();
  });

  it('`check` reports it as a problem', async () => {
    vi.stubEnv('RETENTION_AUDIT_KEY', '');
    const outcome = await runMain(['check', '--config', configFile]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${configFile}: environment: RETENTION_AUDIT_KEY is not set`);
    await nothingTouched();
  });

  it('`plan` and `audit list` still work', async () => {
    vi.stubEnv('RETENTION_AUDIT_KEY', '');
    const planned = await runMain(['plan', '--config', configFile, '--json']);
    expect(planned.code).toBe(0);
    expect(JSON.parse(planned.stdout)).toMatchObject({ rules: [{ id: 'logs', affected: ROWS }] });
    expect(await runMain(['audit', 'list', '--config', configFile])).toMatchObject({ code: 0 });
  });
});
