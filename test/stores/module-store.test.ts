import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * `kind: module`: a user's own store, loaded from the config. The README's example
 * (examples/stores/json-records.js) is copied into a project directory as a user would,
 * named relative to the config file, and driven through the real CLI and queue.
 */
const EXAMPLE = fileURLToPath(new URL('../../examples/stores/json-records.js', import.meta.url));
const DAY = 86_400_000;

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  // A user's project: ES modules, a stores/ folder beside the config, a data file.
  dir.write('package.json', '{ "type": "module" }\n');
  mkdirSync(join(dir.dir, 'stores'));
  mkdirSync(join(dir.dir, 'data'));
  copyFileSync(EXAMPLE, join(dir.dir, 'stores', 'json-records.js'));
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

const iso = (ms: number) => new Date(ms).toISOString();

/** The config file: one module store over data/support.json, one rule on its tickets. */
function writeConfig(module = './stores/json-records.js', rule: Record<string, unknown> = {}): string {
  return dir.write(
    'retention.yaml',
    env.configYaml(
      [{ id: 'closed-tickets', store: 'tickets', target: { collection: 'tickets' }, anchor: 'closedAt', retain: 'P1Y', action: 'delete', ...rule }],
      { stores: { tickets: { kind: 'module', module, options: { file: './data/support.json' } } } },
    ),
  );
}

function writeData(): string {
  const now = Date.now();
  const data = {
    tickets: [
      { id: 't-1', closedAt: iso(now - 800 * DAY), email: 'a@example.com' },
      { id: 't-2', closedAt: iso(now - 500 * DAY), email: 'b@example.com' },
      { id: 't-3', closedAt: now - 400 * DAY, email: 'c@example.com' },
      { id: 't-4', closedAt: iso(now - 30 * DAY), email: 'd@example.com' },
      { id: 't-5', closedAt: iso(now - DAY), email: 'e@example.com' },
      { id: 't-6', email: 'f@example.com' },
      { id: 't-7', closedAt: 'last tuesday' },
      { id: 't-8', closedAt: '2020-02-30T00:00:00Z' },
      { id: 't-9', closedAt: '2020-01-01T25:00:00Z' },
      { closedAt: iso(now - 900 * DAY) },
    ],
    agents: [{ id: 'a-1', closedAt: iso(now - 900 * DAY) }],
  };
  const file = join(dir.dir, 'data', 'support.json');
  writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}

const ids = (file: string, collection = 'tickets') => (JSON.parse(readFileSync(file, 'utf8'))[collection] as { id?: string }[]).map((r) => r.id ?? '(no id)');

describe('a module store (the README example)', () => {
  it('is the file the README shows, word for word', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('## Your own store'));
    expect(/```js\n([\s\S]*?)```/.exec(section)?.[1]).toBe(readFileSync(EXAMPLE, 'utf8'));
  });

  it('goes through check, plan, run on the real queue and audit verify, deleting only records with an expired anchor', async () => {
    const data = writeData();
    const config = writeConfig();

    const check = await runMain(['check', '--config', config]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);

    const plan = await runMain(['plan', '--json', '--config', config]);
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout) as { rules: { id: string; affected: number; unjudged: Record<string, number> }[] };
    expect(planned.rules[0]).toMatchObject({ id: 'closed-tickets', affected: 3, unjudged: { 'missing anchor': 1, 'malformed anchor': 3, 'missing id': 1 } });
    expect(ids(data)).toHaveLength(10);

    const dry = await runMain(['run', '--all', '--dry-run', '--json', '--config', config]);
    expect(dry.code).toBe(0);
    expect(ids(data)).toHaveLength(10);

    const run = await runMain(['run', '--all', '--json', '--config', config]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules[0]).toMatchObject({ id: 'closed-tickets', affected: 3 });
    // Expired ones gone; recent, unjudged and id-less records kept; the other collection untouched.
    expect(ids(data)).toEqual(['t-4', 't-5', 't-6', 't-7', 't-8', 't-9', '(no id)']);
    expect(ids(data, 'agents')).toEqual(['a-1']);

    const verify = await runMain(['audit', 'verify', '--config', config]);
    expect(verify.code).toBe(0);
    const batches = await env.sql<{ entry: { event: string; rows?: number; dryRun?: boolean } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' ORDER BY seq`,
    );
    expect(batches.map((b) => b.entry.rows)).toEqual([3, 3]);
    // Nothing the records held reaches the audit log.
    const audit = JSON.stringify(await env.sql(`SELECT entry FROM ${env.stateSchema}.audit_log`));
    expect(audit).not.toMatch(/example\.com|t-1|t-2|t-3/);
  });

  it('resolves the module relative to the config file, not the working directory', async () => {
    writeData();
    const config = writeConfig('./stores/nowhere.js');
    const check = await runMain(['check', '--config', config]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain(`store tickets: module "./stores/nowhere.js"`);
    expect(check.stderr).toContain(`${join(dir.dir, 'stores', 'nowhere.js')} does not exist`);
  });

  it('refuses a module path that is not a .js/.mjs file path, at stores.NAME.module', () => {
    for (const module of ['elastic', 'stores/elastic.js', './stores/elastic.ts']) {
      let error: unknown;
      try {
        env.config([], { stores: { tickets: { kind: 'module', module } } });
      } catch (e) {
        error = e;
      }
      expect(error, module).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([{ path: 'stores.tickets.module', message: expect.stringContaining('is not a module path') }]);
    }
  });

  it('refuses an action other than delete, at the rule', () => {
    let error: unknown;
    try {
      env.config([{ id: 'x', store: 'tickets', anchor: 'closedAt', retain: 'P1Y', action: 'expire' }], { stores: { tickets: { kind: 'module', module: './x.js' } } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ path: 'rules[0].action', message: expect.stringContaining('can only delete') }]);
  });

  it("reports the example's own rule problems at check, by rule and field", async () => {
    writeData();
    const config = writeConfig(undefined, { target: { collection: 'invoices' } });
    const check = await runMain(['check', '--config', config]);
    expect(check.code).toBe(2);
    expect(check.stderr).toContain('rules[0].target.collection');
    expect(check.stderr).toContain('has no array "invoices"');
  });
});

describe('a module that breaks the contract', () => {
  const broken: [string, string, string][] = [
    ['no default export', 'export const create = () => ({});', 'has no default export'],
    ['no create', 'export default { make() {} };', 'has a default export without a create function'],
    ['no apply', 'export default { create: () => ({ count: async () => 0, total: async () => 0 }) };', 'created a store without apply'],
    ['create throws', 'export default { create() { throw new Error("no options.url"); } };', 'failed in create(): no options.url'],
    ['syntax error', 'export default {', 'cannot be loaded'],
  ];
  for (const [what, source, message] of broken) {
    it(`is named at check, with the store and what is wrong: ${what}`, async () => {
      writeData();
      dir.write('stores/bad.js', source);
      const check = await runMain(['check', '--config', writeConfig('./stores/bad.js')]);
      expect(check.code).toBe(2);
      expect(check.stderr).toContain('store tickets: module "./stores/bad.js" (stores.tickets.module in');
      expect(check.stderr).toContain(message);
      expect(check.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('fails a limited sweep before deleting anything when count is not a whole number', async () => {
    writeData();
    const marker = join(dir.dir, 'applied');
    dir.write(
      'stores/liar.js',
      `import { writeFileSync } from 'node:fs';
       export default { create: () => ({
         count: async () => '3',
         total: async () => 10,
         apply: async () => { writeFileSync(${JSON.stringify(marker)}, 'x'); return 3; },
       }) };`,
    );
    // Limits that can be exceeded: the sweep counts before it deletes anything.
    const config = writeConfig('./stores/liar.js', { limits: { maxFraction: 0.5 } });
    const plan = await runMain(['plan', '--config', config]);
    expect(plan.code).not.toBe(0);
    expect(plan.stderr).toContain('count returned a string, not a whole number >= 0');
    const run = await runMain(['run', '--all', '--config', config]);
    expect(run.code).not.toBe(0);
    expect(existsSync(marker)).toBe(false);
  });

  it('cannot change the rule it is given: the module sees a frozen copy', async () => {
    writeData();
    dir.write(
      'stores/meddler.js',
      `export default { create: () => ({
         count: async (rule) => { rule.target.collection = 'agents'; return 0; },
         total: async () => 0,
         apply: async () => 0,
       }) };`,
    );
    const plan = await runMain(['plan', '--config', writeConfig('./stores/meddler.js')]);
    expect(plan.code).not.toBe(0);
    expect(plan.stderr).toMatch(/count failed: Cannot assign to read only property 'collection'/);
  });
});
