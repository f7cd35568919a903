import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir } from '../cli/cli-harness.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

/**
 * Issue 7, class 1: a zone name PostgreSQL and luxon read differently. PostgreSQL's
 * `AT TIME ZONE 'AST'` is a fixed -04:00 abbreviation; luxon (ICU) reads America/Anchorage.
 * Only UTC and Area/Location names are accepted, and `check` makes sure PostgreSQL knows
 * the exact name and gives the same offsets as luxon.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  // A `timestamp` anchor: PostgreSQL converts it with the zone, so the names must agree.
  await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, at timestamp NOT NULL)`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const rule = { id: 'events', table: 'events', anchor: 'at', retain: 'P30D', action: 'delete' };

function loadProblems(rules: Record<string, unknown>[], extra: Record<string, unknown>): string[] {
  try {
    parseConfig(env.configYaml(rules, extra), 'zones.yaml', {}, STORE_KINDS);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('time zone names', () => {
  it.each(['AST', 'CET', 'EET', 'WET', 'MET', 'IST', 'BST', 'NST', 'ART', 'CST', 'PST', 'ACT', 'EST5EDT', 'Japan', 'GMT'])(
    'refuses timezone: %s when the config is read, naming the field',
    (zone) => {
      const problems = loadProblems([rule], { timezone: zone });
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(new RegExp(`^timezone: "${zone}" is not UTC or an Area/Location zone name`));
    },
  );

  it('refuses an abbreviation as a rule anchorZone and as a store anchorZone, by field', () => {
    expect(loadProblems([{ ...rule, anchorZone: 'CET' }], {})).toEqual([expect.stringMatching(/^rules\[0\]\.anchorZone: "CET" is not UTC or an Area\/Location/)]);
    const stores = { app: { kind: 'postgres', url: 'postgres://x@127.0.0.1/x', anchorZone: 'IST' } };
    expect(loadProblems([rule], { stores })).toEqual([expect.stringMatching(/^stores\.app\.anchorZone: "IST" is not UTC or an Area\/Location/)]);
  });

  it('accepts UTC and Area/Location names', () => {
    expect(loadProblems([{ ...rule, anchorZone: 'America/Halifax' }], { timezone: 'Europe/Berlin' })).toEqual([]);
    expect(loadProblems([rule], { timezone: 'America/Argentina/Buenos_Aires' })).toEqual([]);
  });

  it('check refuses timezone: AST, which PostgreSQL would read as a fixed -04:00, and touches nothing', async () => {
    const file = files.write('ast.yaml', env.configYaml([rule], { timezone: 'AST' }));
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${file}: timezone: "AST" is not UTC or an Area/Location zone name`);
    expect(outcome.stderr).not.toContain('    at ');
  });

  it('check refuses a name luxon accepts but PostgreSQL does not list (wrong case), naming the field it came from', async () => {
    const file = files.write('case.yaml', env.configYaml([rule], { timezone: 'Europe/berlin' }));
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(lines(outcome.stderr)).toContain(
      `retention: ${file}: timezone: "Europe/berlin" is not in pg_timezone_names of ${DATABASE_URL}: PostgreSQL would read it another way than the planner does (write the zone's exact IANA name)`,
    );
  });

  it('check refuses a zone whose offsets PostgreSQL and luxon give differently (their zone databases differ), else accepts it', async () => {
    // America/Tijuana in July 1970: the time zone database PostgreSQL uses here and the one
    // in Node's ICU disagree (found by comparing all 553 Area/Location names). Where both
    // are updated to agree, the check must accept it; the expectation is read, not assumed.
    const at = '1970-07-01T00:00:00Z';
    const [pgOffset] = await env.sql<{ minutes: number }>(
      `SELECT extract(epoch FROM ($1::timestamptz AT TIME ZONE 'America/Tijuana') - ($1::timestamptz AT TIME ZONE 'UTC'))::float8 / 60 AS minutes`,
      [at],
    );
    const luxonOffset = DateTime.fromISO(at, { zone: 'America/Tijuana' }).offset;
    const file = files.write('tijuana.yaml', env.configYaml([{ ...rule, anchorZone: 'America/Tijuana' }]));
    const outcome = await runMain(['check', '--config', file]);
    if (Math.round(pgOffset!.minutes) !== luxonOffset) {
      expect(outcome.code).toBe(2);
      expect(outcome.stderr).toContain(`${file}: rules[0].anchorZone: PostgreSQL and luxon disagree on America/Tijuana: at 1970-07-01T00:00:00.000Z PostgreSQL gives UTC`);
    } else {
      expect(outcome.code).toBe(0);
    }
  });

  it('check accepts an Area/Location zone on which PostgreSQL and luxon agree every January and July 1970-2040', async () => {
    const file = files.write('halifax.yaml', env.configYaml([{ ...rule, anchorZone: 'America/Halifax' }], { timezone: 'Asia/Kolkata' }));
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.stderr).toBe('');
    expect(outcome.code).toBe(0);
  });
});
