import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir, untouched } from './cli-harness.js';

/**
 * Issue 7, "errors for user input, never stack traces": each of these printed "unexpected
 * failure" with a stack, or passed `check` and failed at run time. Each now gets one clear
 * message naming the field, exit 2, and nothing touched.
 */

const ROWS = 20;
let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at, note) SELECT now() - interval '2 years', 'n' || g FROM generate_series(1, ${ROWS}) g`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' };
const configFile = (rules: Record<string, unknown>[], extra?: Record<string, unknown>) => files.write('retention.yaml', env.configYaml(rules, extra));

/** Runs the command; expects one message (exit 2, no stack, nothing touched) and returns it without the file name. */
async function oneMessage(args: string[], file: string): Promise<string> {
  const outcome = await runMain([...args, '--config', file]);
  expect(outcome.stderr).not.toContain('    at ');
  expect(outcome.code).toBe(2);
  expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: ROWS, redisKeys: 0 });
  const found = lines(outcome.stderr);
  expect(found).toHaveLength(1);
  return found[0]!.replace(`${file}: `, '');
}

describe('retention periods and instants PostgreSQL cannot read', () => {
  it('refuses retain: P99999999999999999999D', async () => {
    expect(await oneMessage(['plan'], configFile([{ ...logsRule, retain: 'P99999999999999999999D' }]))).toBe(
      'retention: rules[0].retain: "P99999999999999999999D" is longer than 1000 years, the longest period accepted',
    );
  });

  it('refuses retain: P3000Y, whose expiry is a year PostgreSQL cannot read', async () => {
    expect(await oneMessage(['run', '--all'], configFile([{ ...logsRule, retain: 'P3000Y' }]))).toBe(
      'retention: rules[0].retain: "P3000Y" is longer than 1000 years, the longest period accepted',
    );
  });

  it('accepts P1000Y, the longest period, and plans it without error', async () => {
    const outcome = await runMain(['plan', '--json', '--now', '2999-12-31T00:00:00Z', '--config', configFile([{ ...logsRule, retain: 'P1000Y' }])]);
    expect(outcome.stderr).toBe('');
    expect(JSON.parse(outcome.stdout).rules[0]).toMatchObject({ id: 'logs', affected: 0 });
  });

  it.each(['0001-01-01T00:00:00Z', '+275760-09-13T00:00:00Z', '1899-12-31T23:59:59Z', '3000-01-01T00:00:00Z'])('refuses --now %s', async (now) => {
    expect(await oneMessage(['plan', '--now', now], configFile([logsRule]))).toBe(
      `retention: --now: ${JSON.stringify(now)} is outside the years 1900-2999 that plan judges expiry at`,
    );
  });
});

describe('YAML that would exhaust memory, and strings PostgreSQL cannot hold', () => {
  it('refuses an alias bomb', async () => {
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
    ].join('\n');
    const file = files.write('bomb.yaml', `${env.configYaml([logsRule])}${bomb}\n`);
    expect(await oneMessage(['check'], file)).toBe(
      'retention: YAML: Excessive alias count indicates a resource exhaustion attack (more than 100 alias expansions)',
    );
  });

  it('refuses a NUL in source', async () => {
    const file = files.write('nul.yaml', env.configYaml([{ ...logsRule, source: 'Privacy Policy, section 5\u0000' }]));
    expect(await oneMessage(['run', '--all'], file)).toBe('retention: rules[0].source: contains a NUL character (\\0), which PostgreSQL cannot store or compare');
  });

  it('refuses a lone surrogate in a where value', async () => {
    const file = files.write('surrogate.yaml', env.configYaml([logsRule]).replace('action: delete', 'action: delete\n    where:\n      note: "n\\uD800"'));
    expect(await oneMessage(['run', '--all'], file)).toBe(
      'retention: rules[0].where.note: contains a lone UTF-16 surrogate (invalid Unicode, e.g. "\\uD800"), which cannot be sent to PostgreSQL unchanged',
    );
  });
});

describe('system catalogs and the state schema', () => {
  it.each(['pg_catalog.pg_authid', 'information_schema.tables', 'pg_toast.pg_toast_1262'])('refuses table: %s by name when the config is read', async (table) => {
    const schema = table.slice(0, table.indexOf('.'));
    expect(await oneMessage(['check'], configFile([{ ...logsRule, table }]))).toBe(
      `retention: rules[0].table: ${table} is in ${schema}, a PostgreSQL system schema; retention rules never sweep it`,
    );
  });

  it('refuses a table in the config\'s own state schema by name', async () => {
    expect(await oneMessage(['run', '--all'], configFile([{ ...logsRule, table: `${env.stateSchema}.audit_log` }]))).toBe(
      `retention: rules[0].table: ${env.stateSchema}.audit_log is in ${env.stateSchema}, this config's own state schema (stateSchema); retention rules never sweep it`,
    );
  });

  it('refuses at check an unqualified name that resolves to a system catalog', async () => {
    // pg_authid has a timestamptz column and a unique oid: only its schema is wrong.
    const file = files.write('catalog.yaml', env.configYaml([{ ...logsRule, table: 'logs', key: 'oid', anchor: 'rolvaliduntil' }]).replace(`${env.schema}.logs`, 'pg_authid'));
    const outcome = await runMain(['run', '--all', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).not.toContain('    at ');
    expect(lines(outcome.stderr)).toContain(`retention: ${file}: rules[0].table: pg_authid resolves to pg_catalog.pg_authid, a PostgreSQL system catalog; retention rules never sweep it`);
  });

  it('refuses at check an unqualified name that resolves to the state schema', async () => {
    await env.sql(`CREATE SCHEMA ${env.stateSchema}`);
    await env.sql(`CREATE TABLE ${env.stateSchema}.entries (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    // The store's connection puts the state schema first on its search_path.
    const url = `${DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${env.stateSchema}`)}`;
    const file = files.write(
      'state.yaml',
      env.configYaml([{ ...logsRule, table: 'entries' }], { stores: { app: { kind: 'postgres', url } } }).replace(`${env.schema}.entries`, 'entries'),
    );
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(lines(outcome.stderr)).toEqual([
      `retention: ${file}: rules[0].table: entries resolves to a table in ${env.stateSchema}, this config's own state schema (stateSchema); retention rules never sweep it`,
    ]);
  });
});
