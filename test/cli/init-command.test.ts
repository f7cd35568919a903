import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { spawnCli, tempDir } from './cli-harness.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * `retention init`: a starter config from a real schema's catalog, which loads, passes
 * `check`, enables nothing, proposes rules that pass `check` once given a period (and only
 * then), and never overwrites a file unless told to.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let env: TestEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.users (id bigint PRIMARY KEY, email text, phone text, birth_date date, updated_at timestamptz, created_at timestamptz NOT NULL, last_ip inet);
    CREATE TABLE ${s}.login_logs (log_id bigint PRIMARY KEY, user_id bigint, ip inet, logged_in_at timestamptz NOT NULL);
    CREATE TABLE ${s}.orders (order_no text NOT NULL UNIQUE, placed_on date, paid_at timestamp NOT NULL, note text);
    CREATE TABLE ${s}.settings (name text PRIMARY KEY, value text);
    CREATE TABLE ${s}.events (payload jsonb, at timestamp);
    CREATE TABLE ${s}."Odd Table" (id int PRIMARY KEY, created_at timestamptz);
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

/** The child's environment: the test's database and Redis, and no DATABASE_URL but ours. */
const childEnv = () => ({ DATABASE_URL, REDIS_URL });

async function init(args: string[] = []) {
  const out = join(files.dir, 'retention.yaml');
  const outcome = await spawnCli(['init', '--schema', env.schema, '--out', out, ...args], childEnv());
  return { out, outcome };
}

/** The file with everything commented out enabled: `rules: []` gone, every `# ` line uncommented (`##` notes stay comments). */
const enableAll = (text: string): string =>
  text
    .split('\n')
    .filter((l) => !l.startsWith('rules: []'))
    .map((l) => (l.startsWith('# ') && !l.startsWith('# yaml-language-server') ? l.slice(2) : l))
    .join('\n');

describe('retention init', () => {
  it('writes exactly the starter config for the schema: candidate rules and an inventory proposal, all commented out', async () => {
    const { out, outcome } = await init();
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
    expect(outcome.stdout.trim()).toBe(`${out}: written, with 4 candidate rule(s), all commented out; nothing is enabled. Fill in each TODO, uncomment, then: retention check --config ${out}`);
    const url = new URL(DATABASE_URL);
    url.password = '';
    const db = url.toString();
    const s = env.schema;
    const rule = (id: string, table: string, key: string, anchor: string) => [
      `## ${s}.${table}`,
      `#   - id: ${id}`,
      '#     store: app',
      `#     table: ${s}.${table}`,
      key,
      anchor,
      '#     retain: TODO  ## the period your privacy policy promises for these rows, e.g. P6M; none is invented',
      '#     action: delete  ## or anonymize, with anonymize: { column: strategy }',
      '#     source: TODO  ## the policy and section the period comes from, copied into every audit entry',
    ];
    expect(readFileSync(out, 'utf8').split('\n')).toEqual([
      `# yaml-language-server: $schema=${relative(files.dir, join(ROOT, 'docs/retention.schema.json'))}`,
      `## A starter config written by \`retention init\` from the catalog of ${db} (schema ${s}).`,
      '## 5 table(s): 4 with a timestamp or date column (a candidate rule each), 1 without.',
      '##',
      '## Nothing is enabled: there is no active rule. Each candidate below is commented out, with',
      '## `retain: TODO`: the period is what your privacy policy promises for that data, and none is',
      '## invented here (`retention check` refuses `TODO`, so a candidate uncommented without a period',
      '## cannot run). Lines starting "# " are YAML once uncommented; lines starting "##" are notes.',
      '## Then: `retention check`, `retention plan`, and `retention coverage` for what no rule covers.',
      '',
      'timezone: UTC',
      'redis: "${REDIS_URL:-redis://127.0.0.1:6379}"',
      '## The state database (audit log, sweeps, checkpoints, the clock): the same database here, so',
      "## each batch's change and its audit entry commit in one transaction.",
      ...(new URL(DATABASE_URL).password ? ['## The password of the URL is not written here: set DATABASE_URL (or PGPASSWORD) in the environment.'] : []),
      `state: "\${DATABASE_URL:-${db}}"`,
      'stateSchema: retention',
      'stores:',
      '  app:',
      '    kind: postgres',
      `    url: "\${DATABASE_URL:-${db}}"`,
      '',
      'rules: []  ## no rule is enabled. To enable candidates: delete this line, uncomment "# rules:", then each candidate you keep.',
      '# rules:',
      ...rule(
        'events',
        'events',
        '#     key: TODO  ## no single-column primary key or unique NOT NULL column: sweeps are chunked by one; add one, or name it here',
        '#     anchor: at  ## timestamp without time zone; allows NULL: a row without one never expires',
      ),
      ...rule('login-logs', 'login_logs', '#     key: log_id', '#     anchor: logged_in_at  ## timestamp with time zone'),
      // A NOT NULL timestamp before a nullable date; the unique NOT NULL column is the key.
      ...rule('orders', 'orders', '#     key: order_no', '#     anchor: paid_at  ## timestamp without time zone; other dates: placed_on'),
      // created_at before updated_at (which moves), never the birth date.
      ...rule('users', 'users', '#     key: id', '#     anchor: created_at  ## timestamp with time zone; other dates: updated_at'),
      '##',
      '## Tables without a timestamp or date column (a rule needs one to date its rows):',
      `##   ${s}.settings`,
      '##',
      '## Tables left out: their names are not plain identifiers (letters, digits, _ and $), which rules cannot name:',
      `##   "${s}.Odd Table"`,
      '',
      '## Columns that look like personal data by their name and type, proposed for `inventory:`',
      '## (where personal data lives; `retention coverage` reports what no rule or inventory entry',
      '## covers). Check each category, add what the names do not show, then uncomment.',
      '# inventory:',
      '#   - store: app',
      `#     table: ${s}.login_logs`,
      '#     columns: { ip: ip }',
      '#   - store: app',
      `#     table: ${s}.users`,
      '#     columns: { email: email, phone: phone, birth_date: birth-date, last_ip: ip }',
      '',
    ]);
  });

  it('loads with no active rule, and check accepts it', async () => {
    const { out } = await init();
    const config = loadConfig(out, childEnv(), STORE_KINDS);
    expect(config.rules).toEqual([]);
    expect(config.inventory).toEqual([]);
    expect(Object.keys(config.stores)).toEqual(['app']);
    const check = await spawnCli(['check', '--config', out], childEnv());
    expect(check.code).toBe(0);
    expect(check.stdout.trim()).toBe(`${out}: ok (0 rules, 1 store, time zone UTC)`);
  });

  it('a candidate uncommented without a period is refused at its retain; with one, every candidate with a key passes check', async () => {
    const { out } = await init();
    const text = readFileSync(out, 'utf8');
    const enabled = enableAll(text);
    writeFileSync(out, enabled);
    const refused = await spawnCli(['check', '--config', out], childEnv());
    expect(refused.code).toBe(2);
    for (let i = 0; i < 4; i++) expect(refused.stderr).toContain(`rules[${i}].retain: "TODO" is not`);

    // The period written, the key-less table left out: each candidate is right about its table, key and anchor.
    const withPeriods = enabled.replace(/retain: TODO/g, 'retain: P1Y').replace(/ {2}- id: events\n(?: {4}.*\n)+/, '');
    writeFileSync(out, withPeriods);
    const config = loadConfig(out, childEnv(), STORE_KINDS);
    expect(config.rules.map((r) => [r.id, r.target])).toEqual([
      ['login-logs', expect.objectContaining({ table: { schema: env.schema, name: 'login_logs' }, key: 'log_id', anchor: 'logged_in_at' })],
      ['orders', expect.objectContaining({ table: { schema: env.schema, name: 'orders' }, key: 'order_no', anchor: 'paid_at' })],
      ['users', expect.objectContaining({ table: { schema: env.schema, name: 'users' }, key: 'id', anchor: 'created_at' })],
    ]);
    expect(config.inventory.map((e) => e.path)).toEqual(['inventory[0]', 'inventory[1]']);
    const accepted = await spawnCli(['check', '--config', out], childEnv());
    expect(accepted.stderr).not.toMatch(/rules\[\d\]\.(table|key|anchor)/);
    expect(accepted.code).toBe(0);
  });

  it('refuses to overwrite an existing file unless --force, and writes nothing', async () => {
    const out = join(files.dir, 'retention.yaml');
    writeFileSync(out, 'mine\n');
    const refused = await spawnCli(['init', '--schema', env.schema, '--out', out], childEnv());
    expect(refused.code).toBe(2);
    expect(refused.stderr.trim()).toBe(`retention: init: ${out} exists; nothing written (add --force to overwrite it, or --out another file)`);
    expect(readFileSync(out, 'utf8')).toBe('mine\n');
    const forced = await spawnCli(['init', '--schema', env.schema, '--out', out, '--force'], childEnv());
    expect(forced.code).toBe(0);
    expect(readFileSync(out, 'utf8')).toMatch(/^# yaml-language-server/);
  });

  it('names the database to inspect, and prints to standard output with --out -', async () => {
    const missing = await spawnCli(['init', '--out', '-'], { REDIS_URL });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toBe('retention: init: name the database to inspect: --database postgres://user@host:5432/db, or set DATABASE_URL');
    const printed = await spawnCli(['init', '--database', DATABASE_URL, '--schema', env.schema, '--out', '-'], { REDIS_URL });
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`#     table: ${env.schema}.users`);
    expect(printed.stdout).toContain(`# yaml-language-server: $schema=docs/retention.schema.json`);
  });

  it('never writes the password of the URL it was given', async () => {
    const url = new URL(DATABASE_URL);
    url.password = 'hunter2-not-written';
    // A wrong password on a trust-auth server still connects; the point is what the file says.
    const printed = await spawnCli(['init', '--database', url.toString(), '--schema', env.schema, '--out', '-'], { REDIS_URL });
    expect(printed.code).toBe(0);
    expect(printed.stdout).not.toContain('hunter2');
    expect(printed.stdout).toContain('## The password of the URL is not written here');
  });
});
