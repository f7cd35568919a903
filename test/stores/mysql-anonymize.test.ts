import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hmacValue } from '../../src/anonymize/hmac.js';
import { renderAssign as renderPostgres } from '../../src/stores/postgres/render-anonymize.js';
import { Params } from '../../src/stores/postgres/sql.js';
import { expired } from '../../src/stores/selection.js';
import { DATABASE_URL, TEST_HMAC_KEY } from '../helpers/test-env.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

const KEY = Buffer.from(TEST_HMAC_KEY);
const ALL = { after: null, upTo: null };
const OLD = '2020-01-01 00:00:00';
const SELECTION = expired([{ from: null, to: Date.parse('2025-01-01T00:00:00Z') }]);

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

/** Anonymizes every expired row of `events` with `strategies` (column -> strategy); returns rows changed. */
async function anonymize(strategies: Record<string, string>, timezone = 'UTC'): Promise<number> {
  const rule = env.rule({ action: 'anonymize', timezone, anonymize: Object.entries(strategies).map(([column, strategy]) => ({ column, strategy })) });
  const context = { hmacKey: KEY, timezone };
  const store = env.store();
  const counted = await store.count(rule, SELECTION, context);
  const dry = (await store.apply({ rule, selection: SELECTION, keyRange: ALL, dryRun: true, context })).rows;
  const changed = (await store.apply({ rule, selection: SELECTION, keyRange: ALL, dryRun: false, context })).rows;
  expect(dry).toBe(counted);
  expect(changed).toBe(counted);
  return changed;
}

async function column<T = string | null>(name: string): Promise<T[]> {
  return (await env.sql<Record<string, T>>(`SELECT ${name} AS v FROM events ORDER BY id`)).map((r) => r.v as T);
}

describe('mysql store: anonymization in MariaDB SQL', () => {
  it('hmac writes exactly what PostgreSQL writes (48 hex digest + 16 hex tag), keeps its own values, and re-hashes look-alikes', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime, email varchar(255) COLLATE utf8mb4_general_ci NULL)`);
    const ours = hmacValue(KEY, 'already@example.com');
    const values = ['ana@example.com', 'Zoë Łukasz <zl@example.org>', '', null, ours, ours.toUpperCase(), 'f'.repeat(64)];
    for (const [i, v] of values.entries()) await env.sql('INSERT INTO events VALUES (?, ?, ?)', [i + 1, OLD, v]);
    // Our own value is done; everything else non-NULL is hashed (the capitals too: not what we write).
    expect(await anonymize({ email: 'hmac' })).toBe(5);
    expect(await column('email')).toEqual([
      hmacValue(KEY, 'ana@example.com'),
      hmacValue(KEY, 'Zoë Łukasz <zl@example.org>'),
      hmacValue(KEY, ''),
      null,
      ours,
      hmacValue(KEY, ours.toUpperCase()),
      hmacValue(KEY, 'f'.repeat(64)),
    ]);
    // Done: a second sweep finds nothing to change.
    expect(await anonymize({ email: 'hmac' })).toBe(0);

    // The PostgreSQL store's own SQL, on the same values and key, writes the same text.
    const postgres = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
    try {
      const params = new Params();
      const ref = { sql: 'v.email', info: { name: 'email', type: 'text', baseType: 'text', category: 'text' as const, nullable: true, maxLength: null } };
      const assign = renderPostgres({ kind: 'keyed-hash' }, ref, params, { hmacKey: KEY, timezone: 'UTC' });
      const input = params.add(values.map((v) => v));
      const { rows } = await postgres.query<{ h: string | null }>(`SELECT ${assign} AS h FROM unnest(${input}::text[]) WITH ORDINALITY AS v(email, i) ORDER BY v.i`, params.values);
      expect(rows.map((r) => r.h)).toEqual(await column('email'));
    } finally {
      await postgres.end();
    }
  });

  it('null and redact: NULL stays NULL, and a marker in other capitals is not taken for ours', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime, name varchar(40) COLLATE utf8mb4_general_ci NULL, phone varchar(20) NULL)`);
    await env.sql(`INSERT INTO events VALUES (1, ?, 'Ana', '+49 1'), (2, ?, NULL, NULL), (3, ?, '[REDACTED]', NULL), (4, ?, '[redacted]', NULL)`, [OLD, OLD, OLD, OLD]);
    // Row 3 is pending only through its marker in capitals; row 4 is done.
    expect(await anonymize({ name: 'redact', phone: 'null' })).toBe(2);
    expect(await column('name')).toEqual(['[redacted]', null, '[redacted]', '[redacted]']);
    expect(await column('phone')).toEqual([null, null, null, null]);
    expect(await anonymize({ name: 'redact', phone: 'null' })).toBe(0);
  });

  it('truncate-ip keeps the network of INET6, INET4 and text addresses', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime, a6 inet6 NULL, a4 inet4 NULL, t varchar(45) NULL)`);
    const rows: [string | null, string | null, string | null][] = [
      ['::ffff:203.0.113.77', '203.0.113.77', '203.0.113.77'],
      ['2001:db8:1:2:3::1', '198.51.100.1', '2001:db8:1:2:3::1'],
      ['::ffff:203.0.113.0', '10.0.0.0', '203.0.113.0/24'],
      [null, null, 'not an address'],
      [null, null, null],
    ];
    for (const [i, r] of rows.entries()) await env.sql('INSERT INTO events VALUES (?, ?, ?, ?, ?)', [i + 1, OLD, ...r]);
    // Row 3 is already networks everywhere; row 5 holds nothing.
    expect(await anonymize({ a6: 'truncate-ip', a4: 'truncate-ip', t: 'truncate-ip' })).toBe(3);
    expect(await column('CAST(a6 AS CHAR)')).toEqual(['::ffff:203.0.113.0', '2001:db8:1::', '::ffff:203.0.113.0', null, null]);
    expect(await column('CAST(a4 AS CHAR)')).toEqual(['203.0.113.0', '198.51.100.0', '10.0.0.0', null, null]);
    expect(await column('t')).toEqual(['203.0.113.0/24', '2001:db8:1::/48', '203.0.113.0/24', null, null]);
    expect(await anonymize({ a6: 'truncate-ip', a4: 'truncate-ip', t: 'truncate-ip' })).toBe(0);
  });

  it('truncate-date moves DATE and DATETIME to the first of their month, and a TIMESTAMP in the rule\'s fixed-offset zone', async () => {
    await env.sql(`CREATE TABLE events (id int PRIMARY KEY, at datetime, born date NULL, seen datetime(6) NULL, paid timestamp NULL)`);
    await env.sql(`INSERT INTO events VALUES (1, ?, '1990-05-17', '2024-02-29 23:59:59.999999', '2024-03-31 22:30:00'), (2, ?, '1990-05-01', '2024-02-01 00:00:00', NULL)`, [OLD, OLD]);
    // In UTC+3, 2024-03-31 22:30Z is April 1st 01:30: its month starts 2024-04-01 00:00+03 = 2024-03-31 21:00Z.
    expect(await anonymize({ born: 'truncate-date', seen: 'truncate-date', paid: 'truncate-date' }, 'UTC+3')).toBe(1);
    expect(await column('born')).toEqual(['1990-05-01', '1990-05-01']);
    expect(await column('seen')).toEqual(['2024-02-01 00:00:00.000000', '2024-02-01 00:00:00.000000']);
    expect(await column('paid')).toEqual(['2024-03-31 21:00:00', null]);
    expect(await anonymize({ born: 'truncate-date', seen: 'truncate-date', paid: 'truncate-date' }, 'UTC+3')).toBe(0);
  });
});
