import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir, untouched } from './cli-harness.js';

/**
 * Bad input to `retention`, through `main(argv)` in-process (the same code the command
 * runs, without a second of start-up per case): one message naming the problem and where
 * it is, exit code 2, no stack trace, and nothing touched.
 */

const ROWS = 50;
let env: TestEnv;
let files: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  // `note` is text and `account_id` repeats: wrong as an anchor and as a key. Every row is
  // long expired under the rules below, so a sweep that ran would delete them all.
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text, account_id bigint)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at, note, account_id) SELECT now() - interval '2 years', 'n' || g, g % 5 FROM generate_series(1, ${ROWS}) g`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' };

/** Writes a config for this test's schema and returns its path. */
const configFile = (rules: Record<string, unknown>[], extra?: Record<string, unknown>) => files.write('retention.yaml', env.configYaml(rules, extra));

/** Runs the command; expects a user mistake (exit 2, one line, no stack) and returns the line. */
async function oneMessage(args: string[]): Promise<string> {
  const outcome = await runMain(args);
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).not.toContain('    at ');
  const errorLines = lines(outcome.stderr);
  expect(errorLines).toHaveLength(1);
  return errorLines[0]!;
}

async function expectUntouched(): Promise<void> {
  expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
}

describe('config mistakes found when the file is read', () => {
  it('suggests the key a misspelt rule key was meant to be', async () => {
    const file = configFile([{ ...logsRule, sourse: 'PERCENT policy, section 5' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(`retention: ${file}: rules[0]: unknown key "sourse" (did you mean "source"?)`);
    await expectUntouched();
  });

  it('suggests the key a misspelt top-level key was meant to be', async () => {
    const file = configFile([logsRule], { queuPrefix: 'x' });
    expect(await oneMessage(['check', '--config', file])).toBe(`retention: ${file}: unknown key "queuPrefix" (did you mean "queuePrefix"?)`);
  });

  it('rejects "6 months" as a retention period, naming the rule and field', async () => {
    const file = configFile([logsRule, { ...logsRule, id: 'other', retain: '6 months' }]);
    const message = await oneMessage(['plan', '--config', file]);
    expect(message).toContain(`${file}: rules[1].retain: "6 months" is not an ISO-8601 duration`);
    expect(message).toBe(`retention: ${file}: rules[1].retain: "6 months" is not an ISO-8601 duration, e.g. P6M, P180D, P3Y or PT12H (whole numbers only)`);
  });

  it('rejects two rules with the same id, naming both', async () => {
    const file = configFile([logsRule, { ...logsRule, retain: 'P2D' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(`retention: ${file}: rules[1].id: "logs" is already the id of rules[0]`);
    await expectUntouched();
  });

  it('rejects a rule naming a store that is not defined, listing those that are', async () => {
    const file = configFile([{ ...logsRule, store: 'warehouse' }]);
    expect(await oneMessage(['check', '--config', file])).toBe(`retention: ${file}: rules[0].store: "warehouse" is not a store (defined: app)`);
  });
});

describe('config mistakes found against the live database', () => {
  it('names a table that does not exist and the database it looked in', async () => {
    const file = configFile([{ ...logsRule, table: 'nope' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(
      `retention: ${file}: rules[0].table: table ${env.schema}.nope does not exist in ${DATABASE_URL} (store app)`,
    );
    await expectUntouched();
  });

  it('names a column that does not exist and lists the columns that do', async () => {
    const file = configFile([{ ...logsRule, anchor: 'created_at' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(
      `retention: ${file}: rules[0].anchor: column created_at does not exist in ${env.schema}.logs (columns: id, at, note, account_id)`,
    );
    await expectUntouched();
  });

  it('refuses a text column as the anchor', async () => {
    const file = configFile([{ ...logsRule, anchor: 'note' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(
      `retention: ${file}: rules[0].anchor: column note of ${env.schema}.logs is text; an anchor must be timestamp with time zone, timestamp or date`,
    );
    await expectUntouched();
  });

  it('refuses a key column that is not unique, naming the unique ones', async () => {
    const file = configFile([{ ...logsRule, key: 'account_id' }]);
    expect(await oneMessage(['run', '--all', '--config', file])).toBe(
      `retention: ${file}: rules[0].key: column account_id of ${env.schema}.logs is not a primary key or unique column; sweeps are chunked by ranges of one column, unique and NOT NULL (usable here: id)`,
    );
    await expectUntouched();
  });

  it('lists every problem of a config, each with its place, still without a stack', async () => {
    const file = configFile([{ ...logsRule, anchor: 'note' }, { ...logsRule, id: 'other', table: 'nope' }]);
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).not.toContain('    at ');
    expect(lines(outcome.stderr)).toEqual([
      'retention: 2 problems:',
      `${file}: rules[0].anchor: column note of ${env.schema}.logs is text; an anchor must be timestamp with time zone, timestamp or date`,
      `${file}: rules[1].table: table ${env.schema}.nope does not exist in ${DATABASE_URL} (store app)`,
    ]);
  });
});

describe('command-line mistakes', () => {
  it('names the rule id it does not know and lists the known ones', async () => {
    const file = configFile([logsRule, { ...logsRule, id: 'other' }]);
    expect(await oneMessage(['run', '--rule', 'unknown-id', '--config', file])).toBe(
      `retention: no rule "unknown-id" in ${file} (rules: logs, other)`,
    );
    await expectUntouched();
  });

  it('rejects --now that is not an instant, with an example of one', async () => {
    const file = configFile([logsRule]);
    expect(await oneMessage(['plan', '--now', 'garbage', '--config', file])).toBe(
      'retention: --now: "garbage" is not an ISO-8601 instant, e.g. 2027-01-01T00:00:00Z',
    );
  });

  it('refuses --rule and --all together', async () => {
    const file = configFile([logsRule]);
    expect(await oneMessage(['run', '--rule', 'logs', '--all', '--config', file])).toBe('retention: --rule and --all cannot be combined');
    await expectUntouched();
  });

  it('hides a password in a store URL it cannot reach', async () => {
    const url = 'postgres://postgres:s3cret-pw@127.0.0.1:1/x';
    const file = configFile([logsRule], { stores: { app: { kind: 'postgres', url } } });
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${file}: stores.app: cannot connect to PostgreSQL at postgres://postgres:***@127.0.0.1:1/x (stores.app.url in ${file})`);
    expect(outcome.stderr).not.toContain('s3cret-pw');
    expect(outcome.stderr).not.toContain('    at ');
  });
});
