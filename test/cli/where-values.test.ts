import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir, untouched } from './cli-harness.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { expired } from '../../src/stores/selection.js';

/**
 * Issue 7, class 2: YAML numbers changed before they reached SQL. `tenant_id:
 * 9007199254740993` matched tenant ...992 (rounded through a JavaScript number), and
 * `version: 1.10` on a text column matched '1.1'. Values are kept as written and bound as
 * text; `check` (and `plan`, `run`, which check first) refuse a value that does not fit
 * its column's type, with the field's path, exit 2, nothing touched.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
const ROWS = 4;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(
    `CREATE TABLE ${env.schema}.docs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, tenant_id bigint, version text, n integer, hold boolean, price numeric)`,
  );
  // Every row long expired: what a filter deletes is the filter's doing alone.
  await env.sql(
    `INSERT INTO ${env.schema}.docs (at, tenant_id, version, n, hold, price) VALUES
       (now() - interval '2 years', 9007199254740992, '1.1', 1, false, 1.1),
       (now() - interval '2 years', 9007199254740993, '1.10', 2, false, 1.10),
       (now() - interval '2 years', 9007199254740994, '1.2', 3, true, 1.2),
       (now() - interval '2 years', 1, '2', 4, null, 2)`,
  );
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const rule = { id: 'docs', table: 'docs', anchor: 'at', retain: 'P1D', action: 'delete' };

/** A config whose `where` is written as raw YAML flow text (numbers a JS value cannot carry). */
function configText(where: string): string {
  return env.configYaml([{ ...rule, where: { PLACEHOLDER: 0 } }]).replace('PLACEHOLDER: 0', where);
}

async function deletedBy(where: string): Promise<string[]> {
  const config = parseConfig(configText(where), 'where.yaml', { RETENTION_HMAC_KEY: TEST_HMAC_KEY }, STORE_KINDS);
  const runtime = await env.runtime(config);
  const r = config.rules[0]!;
  const { ranges } = planSweep(r, new Date());
  await runtime.storeFor(r).apply({ rule: r, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context: runtime.contextFor(r) });
  const left = new Set((await env.sql<{ id: string }>(`SELECT id::text AS id FROM ${env.schema}.docs`)).map((x) => x.id));
  return ['1', '2', '3', '4'].filter((id) => !left.has(id));
}

async function refused(where: string, command: string[] = ['check']): Promise<string> {
  const file = files.write('where.yaml', configText(where));
  const outcome = await runMain([...command, '--config', file]);
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).not.toContain('    at ');
  expect(await untouched(env, 'docs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  const found = lines(outcome.stderr);
  expect(found).toHaveLength(1);
  return found[0]!.replace(`${file}: `, '');
}

describe('where values reach SQL exactly as written', () => {
  it('matches a bigint beyond 2^53 exactly: tenant 9007199254740993, not ...992', async () => {
    expect(await deletedBy('tenant_id: 9007199254740993')).toEqual(['2']);
  });

  it('matches the same bigint in {not: ...} exactly', async () => {
    expect(await deletedBy('tenant_id: { not: 9007199254740993 }')).toEqual(['1', '3', '4']);
  });

  it('compares a quoted "1.10" on a text column as that text, not as 1.1', async () => {
    expect(await deletedBy('version: "1.10"')).toEqual(['2']);
  });

  it('compares a decimal on a numeric column by value', async () => {
    expect(await deletedBy('price: 1.10')).toEqual(['1', '2']);
  });
});

describe('check refuses a where value that does not fit its column', () => {
  it('a number on a text column, telling to quote it', async () => {
    expect(await refused('version: 1.10')).toBe(
      'retention: rules[0].where.version: 1.10 is a number in YAML but column version is text; quote it to compare text exactly as written: "1.10"',
    );
  });

  it('a string an integer column cannot take (n: abc), with PostgreSQL\'s reason', async () => {
    expect(await refused('n: abc')).toBe('retention: rules[0].where.n: "abc" does not fit column n (integer): invalid input syntax for type integer: "abc"');
  });

  it('a number out of the column\'s range', async () => {
    expect(await refused('n: { not: 99999999999 }')).toBe(
      'retention: rules[0].where.n.not: 99999999999 does not fit column n (integer): value "99999999999" is out of range for type integer',
    );
  });

  it('a boolean on a text column, and a number or string on a boolean column', async () => {
    expect(await refused('version: true')).toBe('retention: rules[0].where.version: true is a boolean but column version is text; to compare text, quote it: "true"');
    expect(await refused('hold: 1')).toBe('retention: rules[0].where.hold: column hold is boolean; write true or false, unquoted (not 1)');
    expect(await refused('hold: "yes"')).toBe('retention: rules[0].where.hold: column hold is boolean; write true or false, unquoted (not "yes")');
  });

  it('a number YAML reads but not as decimal digits (0x1F), when the file is read', async () => {
    expect(await refused('n: 0x1F')).toBe('retention: rules[0].where.n: 0x1F is not a plain decimal number; write it in decimal digits (e.g. 31, -2.5), or quote it for a text column');
  });

  it('at plan and run too: a clear error naming the field, not a stack', async () => {
    const expected = 'retention: rules[0].where.n: "abc" does not fit column n (integer): invalid input syntax for type integer: "abc"';
    expect(await refused('n: abc', ['plan'])).toBe(expected);
    expect(await refused('n: abc', ['run', '--all'])).toBe(expected);
  });
});
