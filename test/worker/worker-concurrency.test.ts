import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { tempDir, untouched } from '../cli/cli-harness.js';

const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;
/** A usage error answers at once; a worker that started would run until killed. */
const GIVE_UP_MS = 20_000;

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

function worker(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, 'worker', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), GIVE_UP_MS);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('retention worker --concurrency', () => {
  it.each(['abc', '0', '-1', '1.5'])('refuses %j by name, exit 2, without a stack or touching anything', async (value) => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' }]));
    const { code, output } = await worker(['--concurrency', value, '--config', file]);
    expect(code).toBe(2);
    expect(output).toContain(`--concurrency: ${JSON.stringify(value)} is not a whole number`);
    expect(output).not.toContain('unexpected failure');
    expect(output).not.toMatch(/\n\s+at /);
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: 0, redisKeys: 0 });
  }, GIVE_UP_MS + 10_000);
});
