import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import type { SqlTarget } from '../../src/stores/sql/sql-target.js';
import { spawnCli, tempDir } from './cli-harness.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * `retention init` on names that trip a naive writer: identifiers YAML would read as null
 * or a boolean, tables whose rule ids would collide, and a materialized view (not
 * sweepable). The candidates, uncommented, must load as exactly the tables and columns read.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}."null" (id bigint PRIMARY KEY, created_at timestamptz NOT NULL);
    CREATE TABLE ${s}.tokens ("null" bigint PRIMARY KEY, "true" timestamptz NOT NULL);
    CREATE TABLE ${s}."Login_Logs" (id bigint PRIMARY KEY, at timestamptz NOT NULL);
    CREATE TABLE ${s}.login_logs (id bigint PRIMARY KEY, at timestamptz NOT NULL);
    CREATE TABLE ${s}.login_logs_2 (id bigint PRIMARY KEY, at timestamptz NOT NULL);
    CREATE MATERIALIZED VIEW ${s}.recent_logins AS SELECT id, at FROM ${s}.login_logs;
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

/** Every candidate uncommented (`rules: []` gone, `# ` lines uncommented), with a period. */
const enableAll = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('rules: []'))
    .map((l) => (l.startsWith('# ') && !l.startsWith('# yaml-language-server') ? l.slice(2) : l))
    .join('\n')
    .replace(/retain: TODO/g, 'retain: P1Y');

/** `init` on the test's schema: the file's text, and its candidates uncommented, loaded. */
async function initAndEnable() {
  const out = join(files.dir, 'retention.yaml');
  const outcome = await spawnCli(['init', '--schema', env.schema, '--out', out], { DATABASE_URL, REDIS_URL });
  expect(outcome.stderr).toBe('');
  expect(outcome.code).toBe(0);
  const text = readFileSync(out, 'utf8');
  writeFileSync(out, enableAll(text));
  return { text, load: () => loadConfig(out, { DATABASE_URL, REDIS_URL }, STORE_KINDS) };
}

describe('retention init: identifiers', () => {
  it('writes a table, column or id named null or true so that it loads as that name, not as null or a boolean', async () => {
    const { load } = await initAndEnable();
    const rules = load()
      .rules.map((r) => ({ id: r.id, target: r.target as unknown as SqlTarget }))
      .filter((r) => r.target.table.name === 'null' || r.target.table.name === 'tokens');
    expect(rules.map((r) => [r.id, r.target.table, r.target.key, r.target.anchor])).toEqual([
      ['null', { schema: env.schema, name: 'null' }, 'id', 'created_at'],
      ['tokens', { schema: env.schema, name: 'tokens' }, 'null', 'true'],
    ]);
  });

  it('gives every candidate its own id: Login_Logs, login_logs and login_logs_2', async () => {
    const { text } = await initAndEnable();
    const ids = [...text.matchAll(/^# {3}- id: (.*)$/gm)].map((m) => m[1]);
    expect(ids).toEqual(['login-logs', 'login-logs-2', 'login-logs-2-2', '"null"', 'tokens']);
  });

  it('proposes no rule (nor anything else) for a materialized view, which cannot be swept', async () => {
    const { text, load } = await initAndEnable();
    expect(text).not.toContain('recent_logins');
    expect(load().rules.map((r) => (r.target as unknown as SqlTarget).table.name)).toEqual(['Login_Logs', 'login_logs', 'login_logs_2', 'null', 'tokens']);
  });
});
