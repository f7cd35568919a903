import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { tempDir } from '../cli/cli-harness.js';

const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;
/** pino's level numbers. */
const WARN = 40;

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let child: ChildProcess | undefined;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  dir.remove();
  await env.cleanup();
});

describe('retention worker alerts', () => {
  it('logs a scheduled sweep blocked by its limits at warn, with the rule and the reason', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 50)`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1M', limits: { maxRowsPerRun: 10 } }]));
    child = spawn(process.execPath, [CLI, 'worker', '--config', file], { env: { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const end = Date.now() + 30_000;
    const blockedLine = () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { level: number; msg: string; rule?: string; reason?: string })
        .find((l) => l.msg.includes('blocked'));
    while (!blockedLine() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 200));
    expect(blockedLine()).toMatchObject({ level: WARN, rule: 'logs', reason: expect.stringContaining('maxRowsPerRun 10') });
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(50);
  });
});
