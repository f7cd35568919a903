import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestEnv, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir, untouched } from './cli-harness.js';

/**
 * `retention dashboard` as a command: what it refuses before opening or binding anything
 * (no token, a short one, a bad --port or --host, a port in use), and the real process:
 * it prints where it serves (never the token), serves behind the token, and stops on SIGTERM.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOKEN = 'command-test-token-0123456789abcdef-0123456789';

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let file: string;

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  file = dir.write('retention.yaml', env.configYaml([{ id: 'logs', source: 'policy 5', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'manual' }]));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  dir.remove();
  await env.cleanup();
});

describe('retention dashboard', () => {
  it('without a token, or with one under 32 characters: exit 2 with one line naming the variable, nothing opened', async () => {
    vi.stubEnv('RETENTION_DASHBOARD_TOKEN', '');
    const missing = await runMain(['dashboard', '--port', '0', '--config', file]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^retention: RETENTION_DASHBOARD_TOKEN is not set: .*at least 32 characters.*openssl rand -hex 32/);
    expect(missing.stderr.split('\n')).toHaveLength(1);

    vi.stubEnv('RETENTION_DASHBOARD_TOKEN', 'short-token');
    const short = await runMain(['dashboard', '--port', '0', '--config', file]);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/^retention: RETENTION_DASHBOARD_TOKEN is 11 characters: the dashboard's admin token needs at least 32/);
    expect(short.stderr).not.toContain('short-token');
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: 0, redisKeys: 0 });
  });

  it('a bad --port or --host, or a port in use: exit 2 naming it, nothing left bound', async () => {
    vi.stubEnv('RETENTION_DASHBOARD_TOKEN', TOKEN);
    const port = await runMain(['dashboard', '--port', '70000', '--config', file]);
    expect(port).toMatchObject({ code: 2, stderr: 'retention: --port: "70000" is not a port from 0 to 65535 (0: any free port)' });
    const host = await runMain(['dashboard', '--host', 'a b', '--config', file]);
    expect(host).toMatchObject({ code: 2, stderr: expect.stringMatching(/^retention: --host: "a b" is not an address to listen on/) });
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: 0, redisKeys: 0 });

    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const inUse = await runMain(['dashboard', '--port', String((taken.address() as AddressInfo).port), '--config', file]);
      expect(inUse.code).toBe(2);
      expect(inUse.stderr).toMatch(/^retention: dashboard: cannot listen on 127\.0\.0\.1:\d+: the port is in use/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('the process: prints its address on 127.0.0.1 (never the token), serves only with the token, stops on SIGTERM with exit 0', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'scripts/retention.mjs'), 'dashboard', '--port', '0', '--config', file], {
      cwd: ROOT,
      env: { ...process.env, RETENTION_DASHBOARD_TOKEN: TOKEN, RETENTION_AUDIT_KEY: TEST_AUDIT_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          const found = /serving (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
          if (found) resolve(found[1]!);
        });
        child.on('close', () => reject(new Error(`exited before serving: ${stderr}`)));
      });
      expect((await fetch(url)).status).toBe(401);
      const page = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('data-rule="logs"');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stdout + stderr).not.toContain(TOKEN);
    expect(stderr).toBe('');
  });
});
