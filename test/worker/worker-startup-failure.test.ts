import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { sparePort } from '../faults/helpers/spare-port.js';

/**
 * A worker whose start fails after its HTTP port is bound (here: Redis refuses the job
 * scheduler's write, its key holding another type) closes the port and exits non-zero,
 * never lingering with /healthz answering 200.
 */
const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;

let env: TestEnv;
let file: string;
const children: ChildProcess[] = [];
beforeEach(async () => {
  env = await createTestEnv();
  file = join(tmpdir(), `retention-start-fail-${env.id}.yaml`);
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(file, { force: true });
  await env.cleanup();
});

describe('retention worker start that fails after binding its port', () => {
  it('closes the port and exits non-zero', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    writeFileSync(file, env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' }]));
    // The job schedulers' index, as the wrong type: upsertJobScheduler fails with WRONGTYPE.
    await env.redis().set(`${env.prefix}:sweeps:repeat`, 'not a sorted set');
    const port = await sparePort();
    const child = spawn('node', [CLI, 'worker', '--config', file], {
      env: { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY, RETENTION_HTTP_PORT: String(port), RETENTION_LOG_FORMAT: 'json' },
    });
    children.push(child);
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 20_000))]);
    expect(code, out).not.toBe('hung');
    expect(code).not.toBe(0);
    expect(out).toContain('WRONGTYPE');
    expect(out).toContain('serving metrics and health');
    await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  }, 40_000);
});
