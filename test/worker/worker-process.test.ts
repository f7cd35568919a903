import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;
const exec = promisify(execFile);

let env: TestEnv;
let file: string;
let children: ChildProcess[] = [];
beforeEach(async () => {
  env = await createTestEnv();
  file = join(tmpdir(), `retention-worker-${env.id}.yaml`);
});
afterEach(async () => {
  children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
  children = [];
  rmSync(file, { force: true });
  await env.cleanup();
});

function startWorker(args: string[] = []): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn('node', [CLI, 'worker', '--config', file, ...args], { env: { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('retention worker', () => {
  it('sweeps a scheduled rule on its own, then stops cleanly on SIGTERM', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - make_interval(days => g) FROM generate_series(1, 600) g`);
    writeFileSync(file, env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1M', batchSize: 100 }]));
    const worker = startWorker();
    const expired = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs WHERE at + interval '1 year' <= now()`))[0]!.n);
    await until('the scheduled sweep', async () => {
      const rows = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`).catch(() => [{ n: '600' }]);
      return Number(rows[0]!.n) === 600 - expired;
    });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(worker.output()).toContain('worker stopped');
    const sweeps = await env.sql<{ trigger: string; actor: string; status: string; rows_affected: string }>(`SELECT trigger, actor, status, rows_affected FROM ${env.stateSchema}.sweeps`);
    expect(sweeps).toEqual([{ trigger: 'schedule', actor: 'worker', status: 'done', rows_affected: String(expired) }]);
    const { stdout } = await exec('node', [CLI, 'audit', 'verify', '--config', file]);
    expect(stdout).toContain('audit log intact');
  });

  it('removes the scheduler of a rule that left the config', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    const ruleA = { id: 'a', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' };
    writeFileSync(file, env.configYaml([ruleA, { ...ruleA, id: 'b' }]));
    const first = startWorker();
    await until('the first worker to start', async () => first.output().includes('worker started'));
    expect(first.output()).toContain('"schedulers":["rule-a","rule-b"]');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);

    writeFileSync(file, env.configYaml([ruleA]));
    const second = startWorker();
    await until('the second worker to start', async () => second.output().includes('worker started'));
    expect(second.output()).toContain('"removedSchedulers":["rule-b"]');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('refuses a Redis that evicts keys', async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru']);
    children.push(redis);
    await until('throwaway redis', async () => {
      try {
        await exec('redis-cli', ['-p', String(port), 'ping']);
        return true;
      } catch {
        return false;
      }
    });
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    writeFileSync(file, env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }], { redis: `redis://127.0.0.1:${port}` }));
    const worker = startWorker();
    expect(await worker.exited).toBe(2);
    expect(worker.output()).toContain('maxmemory-policy is allkeys-lru');
    expect(worker.output()).toContain('noeviction');
  });
});
