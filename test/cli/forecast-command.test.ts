import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { createTestEnv, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain, spawnCli, tempDir, untouched } from './cli-harness.js';

/**
 * `retention forecast` on a known dataset: rows, Redis keys and files whose periods end at
 * known instants, so that each week has a known count, including a calendar-month rule whose
 * anchors of Jan 28-31 all end on Feb 28 (split there by a week boundary), rows of a subject
 * on legal hold, and items exactly on a week's boundary.
 *
 * --now 2026-01-24T12:00:00Z (a Saturday), UTC: week k runs from Saturday 12:00:01 to the
 * next Saturday 12:00:01 (exclusive), the first from 2026-01-24T12:00:01Z.
 */

const NOW = '2026-01-24T12:00:00Z';

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let root: string;
let keys: string;

interface ForecastJson {
  now: string;
  pendingAt: string;
  weeks: { week: number; start: string; end: string }[];
  rules: { id: string; pending: number | null; weeks: number[] | null; total: number | null; held: string; error: string | null; onHold: unknown }[];
}

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  root = await mkdtemp(join(tmpdir(), 'retention-forecast-'));
  keys = `${env.prefix}.fc`;
  const s = env.schema;
  await env.sql(`CREATE TABLE ${s}.logs (id bigserial PRIMARY KEY, at timestamptz, user_id text NOT NULL DEFAULT 'u-1')`);
  await env.sql(`CREATE TABLE ${s}.invoices (id bigserial PRIMARY KEY, paid_at timestamptz NOT NULL)`);
  // logs, P30D: the anchor is 30 days before the instant each row's period ends.
  const logs: [string | null, string][] = [
    ['2025-12-24T00:00:00Z', 'u-1'], // ends 01-23: pending
    ['2025-12-25T12:00:00Z', 'u-1'], // ends at now exactly: pending
    ['2025-12-11T00:00:00Z', 'u-held'], // pending, but held
    ['2025-12-25T12:00:01Z', 'u-1'], // ends at week 1's first second
    ['2025-12-28T00:00:00Z', 'u-2'], // week 1
    ['2026-01-01T12:00:00.999Z', 'u-2'], // ends one millisecond before week 2: week 1
    ['2025-12-29T00:00:00Z', 'u-held'], // week 1, held
    ['2025-12-29T00:00:00Z', 'u-held'], // week 1, held
    ['2026-01-01T12:00:01Z', 'u-1'], // week 2's first second
    ['2026-01-26T00:00:00Z', 'u-1'], // ends 02-25: week 5
    ['2026-01-26T00:00:00Z', 'u-2'], // week 5
    ['2026-02-18T12:00:00Z', 'u-1'], // ends 03-20: week 8
    ['2026-02-19T12:00:01Z', 'u-1'], // ends at the end of week 8: after the forecast
    [null, 'u-1'], // never expires
  ];
  for (const [at, user] of logs) await env.sql(`INSERT INTO ${s}.logs (at, user_id) VALUES ($1, $2)`, [at, user]);
  // invoices, P1M by the calendar: Jan 28-31 all end on Feb 28, at their own times of day.
  for (const at of [
    '2025-12-20T00:00:00Z', // ends 01-20: pending
    '2025-12-31T08:00:00Z', // ends 01-31 08:00: week 1
    '2026-01-03T12:00:00Z', // ends 02-03: week 2
    '2026-01-21T12:00:01Z', // ends 02-21 12:00:01: week 5's first second
    '2026-01-28T10:00:00Z', // ends 02-28 10:00: week 5
    '2026-01-29T11:00:00Z', // ends 02-28 11:00: week 5
    '2026-01-30T12:00:00Z', // ends 02-28 12:00:00: week 5
    '2026-01-31T12:00:01Z', // ends 02-28 12:00:01: week 6
    '2026-01-31T13:00:00Z', // ends 02-28 13:00: week 6
    '2026-02-14T00:00:00Z', // ends 03-14 00:00: week 7
  ]) {
    await env.sql(`INSERT INTO ${s}.invoices (paid_at) VALUES ($1)`, [at]);
  }
  const redis = env.redis();
  // sessions, P7D, Redis hashes dated in ms.
  const ms = (iso: string) => String(Date.parse(iso));
  await redis.hset(`${keys}:session:a`, { at: ms('2026-01-17T11:00:00Z') }); // pending
  await redis.hset(`${keys}:session:b`, { at: ms('2026-01-18T00:00:00Z') }); // week 1
  await redis.hset(`${keys}:session:c`, { at: ms('2026-01-23T00:00:00Z') }); // week 1
  await redis.hset(`${keys}:session:d`, { at: ms('2026-02-03T00:00:00Z') }); // ends 02-10: week 3
  await redis.hset(`${keys}:session:bad`, { at: 'yesterday' }); // never judged
  await redis.set(`${keys}:session:string`, 'x'); // not a hash
  // caches, P7D with action: expire (Redis deletes them by a TTL at their end).
  await redis.hset(`${keys}:cache:a`, { at: ms('2026-01-10T00:00:00Z') }); // pending
  await redis.hset(`${keys}:cache:b`, { at: ms('2026-01-26T00:00:00Z') }); // ends 02-02: week 2
  for (const id of ['c', 'd', 'e']) await redis.hset(`${keys}:cache:${id}`, { at: ms('2026-06-01T00:00:00Z') }); // after the forecast
  // exports, P14D by modification time; a file the glob does not cover is not counted.
  const file = async (name: string, iso: string) => {
    const path = join(root, name);
    await writeFile(path, 'x');
    await utimes(path, Date.parse(iso) / 1000, Date.parse(iso) / 1000);
  };
  await file('a.csv', '2026-01-05T00:00:00Z'); // ends 01-19: pending
  await file('b.csv', '2026-01-18T00:00:00Z'); // ends 02-01: week 2
  await file('c.csv', '2026-01-23T00:00:00Z'); // ends 02-06: week 2
  await file('d.csv', '2026-02-11T00:00:00Z'); // ends 02-25: week 5
  await file('e.log', '2026-01-05T00:00:00Z'); // not an export
});

afterEach(async () => {
  await deleteKeysMatching(env.redis(), `${keys}:*`);
  await rm(root, { recursive: true, force: true });
  dir.remove();
  await env.cleanup();
});

function configFile(extraStores: Record<string, unknown> = {}, extraRules: Record<string, unknown>[] = []): string {
  return dir.write(
    'retention.yaml',
    env.configYaml(
      [
        { id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', subject: 'user_id', schedule: 'manual' },
        { id: 'invoices', table: 'invoices', anchor: 'paid_at', retain: 'P1M', action: 'delete', schedule: 'manual' },
        { id: 'sessions', store: 'cache', keys: `${keys}:session:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P7D', action: 'delete', schedule: 'manual' },
        { id: 'caches', store: 'cache', keys: `${keys}:cache:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P7D', action: 'expire', schedule: 'manual' },
        { id: 'exports', store: 'files', path: '*.csv', anchor: 'mtime', retain: 'P14D', action: 'delete', schedule: 'manual' },
        ...extraRules,
      ],
      {
        stores: {
          app: { kind: 'postgres', url: env.pool.options.connectionString },
          cache: { kind: 'redis', url: REDIS_URL },
          files: { kind: 'files', root },
          ...extraStores,
        },
      },
    ),
  );
}

const byId = (json: ForecastJson) => Object.fromEntries(json.rules.map((r) => [r.id, r]));

describe('retention forecast', () => {
  it('counts, per rule and week, exactly the items whose period ends in it; held subjects left out', async () => {
    const file = configFile();
    expect((await runMain(['hold', 'add', '--subject', 'u-held', '--reason', 'litigation', '--config', file])).code).toBe(0);
    const result = await runMain(['forecast', '--now', NOW, '--json', '--config', file]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as ForecastJson;
    expect(json.now).toBe('2026-01-24T12:00:00.000Z');
    expect(json.pendingAt).toBe('2026-01-24T12:00:00.999Z');
    expect(json.weeks).toHaveLength(8);
    expect(json.weeks[0]).toEqual({ week: 1, start: '2026-01-24T12:00:01.000Z', end: '2026-01-31T12:00:01.000Z' });
    expect(json.weeks[7]).toEqual({ week: 8, start: '2026-03-14T12:00:01.000Z', end: '2026-03-21T12:00:01.000Z' });
    const rules = byId(json);
    expect(rules.logs).toMatchObject({ pending: 2, weeks: [3, 1, 0, 0, 2, 0, 0, 1], total: 7, held: 'excluded', error: null });
    // Feb 28 at 12:00:01 is a week boundary: Jan 28, 29 and 30 end before it, Jan 31 12:00:01 and 13:00 on and after it.
    expect(rules.invoices).toMatchObject({ pending: 1, weeks: [1, 1, 0, 0, 4, 2, 1, 0], total: 9, held: 'none' });
    expect(rules.sessions).toMatchObject({ pending: 1, weeks: [2, 0, 1, 0, 0, 0, 0, 0], total: 3 });
    // The keys, not the TTLs an expire sweep would set on the three not yet due.
    expect(rules.caches).toMatchObject({ pending: 1, weeks: [0, 1, 0, 0, 0, 0, 0, 0], total: 1 });
    expect(rules.exports).toMatchObject({ pending: 1, weeks: [0, 2, 0, 0, 1, 0, 0, 0], total: 3 });

    // Changes nothing: every row, key and file is still there.
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n)).toBe(14);
    expect(await env.redis().keys(`${keys}:*`)).toHaveLength(11);
  });

  it('counts a held subject\'s items in the week its hold lapses, and holds as they stand at --now', async () => {
    const file = configFile();
    // On the state database's clock (a hold's --until must be in the future): every fixed row
    // above is long past its end (13 pending), and four rows of u-lapse, held, end: 10 days
    // ago, in 1 day, in 5 days, in 10 days.
    for (const days of [-10, 1, 5, 10]) {
      await env.sql(`INSERT INTO ${env.schema}.logs (at, user_id) VALUES (now() - interval '30 days' + $1 * interval '1 day', 'u-lapse')`, [days]);
    }
    const [{ now }] = (await env.sql<{ now: Date }>('SELECT now() AS now')) as [{ now: Date }];
    const inDays = (d: number) => new Date(now.getTime() + d * 86_400_000).toISOString();
    const forecast = async (...extra: string[]) => {
      const result = await runMain(['forecast', '--json', '--weeks', '3', '--rule', 'logs', ...extra, '--config', file]);
      expect(result.code).toBe(0);
      return (JSON.parse(result.stdout) as ForecastJson).rules[0]!;
    };

    // Held for 3 more days: the row already past its end and the one ending tomorrow go when
    // the hold lapses, in week 1; the one in 5 days at its end, in week 1; the last in week 2.
    const hold = await runMain(['hold', 'add', '--subject', 'u-lapse', '--until', inDays(3), '--reason', 'litigation', '--config', file]);
    expect(hold.code).toBe(0);
    expect(await forecast()).toMatchObject({ pending: 13, weeks: [3, 1, 0], total: 4, held: 'excluded' });

    // Held for 9 days: the first three wait for the lapse, in week 2; the last ends after it, in week 2.
    expect((await runMain(['hold', 'release', '--subject', 'u-lapse', '--reason', 'moved', '--config', file])).code).toBe(0);
    expect((await runMain(['hold', 'add', '--subject', 'u-lapse', '--until', inDays(9), '--reason', 'litigation', '--config', file])).code).toBe(0);
    expect(await forecast()).toMatchObject({ pending: 13, weeks: [0, 4, 0], total: 4 });

    // Judged at --now: 10 days on, the hold has lapsed and keeps nothing: all 17 are due.
    expect(await forecast('--now', inDays(10.5))).toMatchObject({ pending: 17, held: 'none' });
  });

  it('prints when a rule hold lapses', async () => {
    const file = configFile();
    expect((await runMain(['hold', 'add', '--rule', 'invoices', '--until', '2099-02-10T00:00:00Z', '--reason', 'audit', '--config', file])).code).toBe(0);
    const text = await runMain(['forecast', '--now', NOW, '--rule', 'invoices', '--config', file]);
    expect(text.stdout).toMatch(/invoices: on legal hold \d+ \(audit\), until 2099-02-10T00:00:00.000Z: nothing is removed while it lasts/);
  });

  it('counts held subjects\' items, and says so, when the audit key to open their ids is missing', async () => {
    const file = configFile();
    expect((await runMain(['hold', 'add', '--subject', 'u-held', '--reason', 'litigation', '--config', file])).code).toBe(0);
    const result = await spawnCli(['forecast', '--now', NOW, '--json', '--rule', 'logs', '--config', file], { RETENTION_AUDIT_KEY: '' });
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as ForecastJson;
    expect(json.rules).toHaveLength(1);
    expect(json.rules[0]).toMatchObject({ id: 'logs', pending: 3, weeks: [5, 1, 0, 0, 2, 0, 0, 1], held: 'included' });
  });

  it('prints a table of rules by weeks, two-year forecasts a quarter per table', async () => {
    const file = configFile();
    const text = await runMain(['forecast', '--now', NOW, '--config', file]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('now: 2026-01-24T12:00:00.000Z (--now)');
    const lines = text.stdout.split('\n');
    const header = lines.find((l) => l.startsWith('rule'))!;
    expect(header.split(/\s+/)).toEqual(['rule', 'pending', '01-24', '01-31', '02-07', '02-14', '02-21', '02-28', '03-07', '03-14', '8', 'weeks']);
    expect(lines.find((l) => l.startsWith('invoices'))!.split(/\s+/)).toEqual(['invoices', '1', '1', '1', '0', '0', '4', '2', '1', '0', '9']);

    const long = await runMain(['forecast', '--now', NOW, '--weeks', '104', '--rule', 'invoices', '--config', file]);
    expect(long.code).toBe(0);
    const tables = long.stdout.split('\n').filter((l) => l.startsWith('rule'));
    expect(tables).toHaveLength(8);
    expect(tables[0]).toContain('pending');
    expect(tables[7]).toContain('104 weeks');
  });

  it('weeks keep their wall-clock start across a DST change', async () => {
    const file = dir.write(
      'berlin.yaml',
      env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'manual' }], { timezone: 'Europe/Berlin' }),
    );
    await env.sql(`TRUNCATE ${env.schema}.logs`);
    for (const at of [
      '2026-03-28T12:00:00+01:00', // + P1D = 03-29 12:00 CEST (10:00Z, 23 hours later): week 2
      '2026-04-02T11:59:00+02:00', // ends 04-03 11:59 CEST: week 2
      '2026-04-02T12:30:00+02:00', // ends 04-03 12:30 CEST: week 3 (a week of 168 hours from 03-27 12:00:01 CET would end at 13:00:01 CEST)
    ]) {
      await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES ($1)`, [at]);
    }
    const result = await runMain(['forecast', '--now', '2026-03-20T12:00:00+01:00', '--weeks', '3', '--json', '--config', file]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as ForecastJson;
    expect(json.weeks.map((w) => w.end)).toEqual(['2026-03-27T11:00:01.000Z', '2026-04-03T10:00:01.000Z', '2026-04-10T10:00:01.000Z']);
    expect(json.rules[0]).toMatchObject({ pending: 0, weeks: [0, 2, 1] });
  });

  it('says which rule could not be counted, counts the others, and exits 1', async () => {
    const file = configFile({ down: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test' } }, [
      { id: 'elsewhere', store: 'down', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'manual' },
    ]);
    const result = await runMain(['forecast', '--now', NOW, '--json', '--config', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('retention: forecast: 1 rule could not be counted: elsewhere');
    const rules = byId(JSON.parse(result.stdout) as ForecastJson);
    expect(rules.elsewhere).toMatchObject({ pending: null, weeks: null, total: null });
    expect(rules.elsewhere!.error).toMatch(/127\.0\.0\.1:1/);
    expect(rules.invoices).toMatchObject({ total: 9 });
    const text = await runMain(['forecast', '--now', NOW, '--config', file]);
    expect(text.stdout).toMatch(/^elsewhere: could not be counted: /m);
  });

  it('refuses a bad --weeks or --now with one line naming the option, exit 2, touching nothing', async () => {
    const file = configFile();
    for (const [args, message] of [
      [['--weeks', '0'], /^retention: --weeks: "0" is not a whole number of weeks from 1 to 104$/],
      [['--weeks', 'abc'], /^retention: --weeks: "abc" is not a whole number of weeks from 1 to 104$/],
      [['--weeks', '105'], /--weeks: "105" is not/],
      [['--weeks', '2.5'], /--weeks: "2.5" is not/],
      [['--now', '2026-01-24T12:00:00'], /^retention: --now: .* has no offset/],
      [['--now', '3026-01-01'], /^retention: --now: .* outside the years 1900-2999/],
    ] as const) {
      const result = await runMain(['forecast', ...args, '--config', file]);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.split('\n')).toHaveLength(1);
      expect(result.stdout).toBe('');
    }
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: 14, redisKeys: 0 });
  });
});
