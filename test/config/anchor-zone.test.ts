import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir } from '../cli/cli-harness.js';

/**
 * Issue 7, class 5: a `timestamp` anchor was read in the one global zone, chosen for cron.
 * `anchorZone` (rule, or store default) names the zone the column is written in; the
 * config's `timezone` stays the zone of calendar arithmetic and schedules, and remains
 * the default so existing configs behave as before. `check` warns about that default.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  // UTC wall-clock times, as an application writing `now() AT TIME ZONE 'UTC'` stores them.
  // `due-soon` reaches its 1-day retention in 3 hours (UTC); read as Tokyo time (+09:00) it
  // would be an instant 9 hours earlier, 6 hours past its date. `long-due` is due either way.
  await env.sql(`CREATE TABLE ${env.schema}.visits (id bigserial PRIMARY KEY, label text NOT NULL, at timestamp NOT NULL)`);
  await env.sql(
    `INSERT INTO ${env.schema}.visits (label, at) VALUES
       ('due-soon', (now() AT TIME ZONE 'UTC') - interval '1 day' + interval '3 hours'),
       ('long-due', (now() AT TIME ZONE 'UTC') - interval '2 days')`,
  );
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const rule = { id: 'visits', table: 'visits', anchor: 'at', retain: 'P1D', action: 'delete' };
/** Cron schedules in Tokyo: the reason the config's timezone is not UTC. */
const tokyo = { timezone: 'Asia/Tokyo' };

async function sweptLabels(rules: Record<string, unknown>[], extra: Record<string, unknown>): Promise<string[]> {
  await env.run(env.config(rules, extra));
  const left = new Set((await env.sql<{ label: string }>(`SELECT label FROM ${env.schema}.visits`)).map((r) => r.label));
  return ['due-soon', 'long-due'].filter((l) => !left.has(l));
}

describe('anchorZone', () => {
  it('reads a timestamp anchor in the rule\'s anchorZone, not the config\'s timezone: keeps a UTC row not yet due', async () => {
    expect(await sweptLabels([{ ...rule, anchorZone: 'UTC' }], tokyo)).toEqual(['long-due']);
  });

  it('takes the store\'s anchorZone as the default of its rules', async () => {
    const stores = { app: { kind: 'postgres', url: DATABASE_URL, anchorZone: 'UTC' } };
    expect(await sweptLabels([rule], { ...tokyo, stores })).toEqual(['long-due']);
  });

  it('lets a rule\'s anchorZone override its store\'s', async () => {
    const stores = { app: { kind: 'postgres', url: DATABASE_URL, anchorZone: 'Asia/Tokyo' } };
    expect(await sweptLabels([{ ...rule, anchorZone: 'UTC' }], { timezone: 'UTC', stores })).toEqual(['long-due']);
  });

  it('defaults to the config\'s timezone, as before: the same rows read as Tokyo times', async () => {
    expect(await sweptLabels([rule], tokyo)).toEqual(['due-soon', 'long-due']);
  });

  it('check warns (and succeeds) when a timestamp anchor relies on a non-UTC default zone', async () => {
    const file = files.write('warn.yaml', env.configYaml([rule], tokyo));
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(0);
    expect(lines(outcome.stderr)).toEqual([
      `retention: warning: ${file}: rules[0].anchorZone: column at is timestamp without time zone (wall-clock times without a zone) and is read in the config's timezone Asia/Tokyo by default; ` +
        'say which zone it is written in with anchorZone on the rule or on stores.app (e.g. anchorZone: UTC, or anchorZone: Asia/Tokyo)',
    ]);
    expect(outcome.stdout).toContain(`${file}: ok (1 rule, 1 store, time zone Asia/Tokyo)`);
  });

  it('check does not warn when the zone is declared (rule or store) or the config\'s zone is UTC', async () => {
    for (const [name, rules, extra] of [
      ['rule.yaml', [{ ...rule, anchorZone: 'Asia/Tokyo' }], tokyo],
      ['store.yaml', [rule], { ...tokyo, stores: { app: { kind: 'postgres', url: DATABASE_URL, anchorZone: 'UTC' } } }],
      ['utc.yaml', [rule], {}],
    ] as const) {
      const outcome = await runMain(['check', '--config', files.write(name, env.configYaml([...rules], extra))]);
      expect(outcome.stderr, name).toBe('');
      expect(outcome.code, name).toBe(0);
    }
  });

  it('refuses anchorZone on a Redis rule, whose anchors are instants', async () => {
    const file = files.write(
      'redis.yaml',
      env.configYaml([{ id: 'sessions', store: 'cache', keys: 'session:*', anchor: 'at', anchorUnit: 'ms', anchorZone: 'UTC', retain: 'P1D', action: 'delete' }], {
        stores: { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' } },
      }),
    );
    const outcome = await runMain(['check', '--config', file]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${file}: rules[0].anchorZone: anchorZone is for timestamp and date columns of PostgreSQL tables; a Redis anchor is an instant`);
  });
});
