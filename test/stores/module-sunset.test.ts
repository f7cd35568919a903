import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SunsetReceipt } from '../../src/executor/apply-sunset.js';
import type { SunsetPlan } from '../../src/executor/sunset-plan.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { everything, UnsupportedSelection } from '../../src/stores/selection.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * A sunset's selection (`all`) on a module store: the module contract only ever hands a
 * module expired ranges, and a range cannot name items whose anchor is missing or
 * malformed, so the store refuses `all` outright rather than delete only what it can
 * judge. `sunset --plan` shows the rule as refused; `--execute` changes nothing of it,
 * says so in the receipt and exits 1.
 */

const EXAMPLE = fileURLToPath(new URL('../../examples/stores/json-records.js', import.meta.url));
const DAY = 86_400_000;

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let data: string;
let configFile: string;

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  dir.write('package.json', '{ "type": "module" }\n');
  mkdirSync(join(dir.dir, 'stores'));
  mkdirSync(join(dir.dir, 'data'));
  copyFileSync(EXAMPLE, join(dir.dir, 'stores', 'json-records.js'));
  data = join(dir.dir, 'data', 'support.json');
  writeFileSync(data, JSON.stringify({ tickets: [{ id: 't-1', closedAt: new Date(Date.now() - 800 * DAY).toISOString() }, { id: 't-2', closedAt: 'last tuesday' }, { id: 't-3' }] }));
  configFile = dir.write(
    'retention.yaml',
    env.configYaml([{ id: 'closed-tickets', store: 'tickets', target: { collection: 'tickets' }, anchor: 'closedAt', retain: 'P1Y', action: 'delete' }], {
      stores: { tickets: { kind: 'module', module: './stores/json-records.js', options: { file: './data/support.json' } } },
      inventory: [{ store: 'tickets', root: 'data', categories: ['email'] }],
    }),
  );
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

describe('module: a sunset cannot select every item, and says so', () => {
  it('refuses the selection in count and apply, touching nothing', async () => {
    const runtime = await env.runtime(parseConfig(readFileSync(configFile, 'utf8'), configFile, {}, STORE_KINDS));
    const rule = runtime.config.rules[0]!;
    const store = runtime.storeFor(rule);
    const before = readFileSync(data, 'utf8');
    await expect(store.count(rule, everything(), runtime.contextFor(rule))).rejects.toThrow(UnsupportedSelection);
    await expect(store.apply({ rule, selection: everything(), keyRange: { after: null, upTo: null }, dryRun: false, context: runtime.contextFor(rule) })).rejects.toThrow(
      /selection "all" .* is not supported by this store/,
    );
    expect(readFileSync(data, 'utf8')).toBe(before);
  });

  it('is listed as refused by the plan, left alone by the execute, and the receipt is not complete', async () => {
    const planned = await runMain(['sunset', '--plan', '--json', '--config', configFile]);
    expect(planned.code).toBe(0);
    const plan = JSON.parse(planned.stdout) as SunsetPlan;
    expect(plan.rules).toEqual([expect.objectContaining({ id: 'closed-tickets', affected: 0, inventory: [], refused: expect.stringMatching(/^store tickets \(module\): selection "all"/) })]);
    const text = await runMain(['sunset', '--plan', '--config', configFile]);
    expect(text.stdout).toMatch(/REFUSED, nothing of it can be done/);
    const before = readFileSync(data, 'utf8');
    const executed = await runMain(['sunset', '--execute', '--confirm', plan.token, '--json', '--config', configFile]);
    expect(executed.code).toBe(1);
    expect(executed.stderr).toMatch(/did not finish everything: rule closed-tickets refused/);
    const receipt = JSON.parse(executed.stdout) as SunsetReceipt;
    expect(receipt.rules).toEqual([expect.objectContaining({ id: 'closed-tickets', status: 'refused', changed: 0 })]);
    expect(receipt.complete).toBe(false);
    expect(readFileSync(data, 'utf8')).toBe(before);
  });
});
