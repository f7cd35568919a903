import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'scripts/retention.mjs');

export interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Variables that would steer the CLI away from what a test set up; never inherited. */
const STEERING = ['RETENTION_CONFIG', 'DATABASE_URL', 'REDIS_URL', 'RETENTION_HMAC_KEY', 'RETENTION_AUDIT_KEY'];

/**
 * The real command in a child process: `node scripts/retention.mjs ARGS`, with `env` added.
 * The child gets the test audit key unless `env` says otherwise (`RETENTION_AUDIT_KEY: ''`
 * runs it without one). With `timeoutMs`, a child still running then (a worker that should
 * have refused to start) is killed and reported with code -1. With `entry`, that file runs
 * instead of scripts/retention.mjs (a built bin, test/cli/built-cli.test.ts), in `cwd`.
 */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}, options: { timeoutMs?: number; entry?: string; cwd?: string } = {}): Promise<CliOutcome> {
  const base = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !STEERING.includes(k))),
    RETENTION_AUDIT_KEY: TEST_AUDIT_KEY,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.entry ?? CLI, ...args], { cwd: options.cwd ?? ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** `main(argv)` in this process, with what it prints to the console captured. */
export async function runMain(args: readonly string[]): Promise<CliOutcome> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void out.push(parts.map(String).join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => void err.push(parts.map(String).join(' ')));
  try {
    const code = await main(args);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

/** The non-empty lines of a stream. */
export const lines = (text: string): string[] => text.split('\n').filter((l) => l.trim() !== '');

/** A temporary directory for config files, removed by the returned function. */
export function tempDir(): { dir: string; write(name: string, text: string): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'retention-cli-'));
  return {
    dir,
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * What a failed command must not have done: create the state schema (it is created on the
 * first real connect), change the table, or queue anything in Redis.
 */
export async function untouched(env: TestEnv, table: string): Promise<{ stateSchema: boolean; rows: number; redisKeys: number }> {
  const schema = await env.sql<{ n: string }>('SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1', [env.stateSchema]);
  const count = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.${table}`);
  const keys = await env.redis().keys(`${env.prefix}:*`);
  return { stateSchema: Number(schema[0]!.n) > 0, rows: Number(count[0]!.n), redisKeys: keys.length };
}
