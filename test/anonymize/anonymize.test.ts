import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { REDACTED } from '../../src/anonymize/redact.js';
import { hmacValue } from '../../src/anonymize/hmac.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/**
 * What `hmac` writes, computed independently: 48 hex of HMAC(key, value), then 16 hex of
 * HMAC(tagKey, those 48) with tagKey = HMAC(key, "retention hmac tag v1").
 */
const hmac = (value: string) => {
  const digest = createHmac('sha256', TEST_HMAC_KEY).update(value).digest('hex').slice(0, 48);
  const tagKey = createHmac('sha256', TEST_HMAC_KEY).update('retention hmac tag v1').digest();
  return digest + createHmac('sha256', tagKey).update(digest).digest('hex').slice(0, 16);
};

/** Rows by label: `old` rows are past P30D, `recent` is not, `undated` has a NULL anchor. */
async function createPeople(): Promise<void> {
  await env.sql(
    `CREATE TABLE ${env.schema}.people (
       id serial PRIMARY KEY, label text NOT NULL UNIQUE, at timestamptz,
       email text, name text, note varchar(100),
       ip inet, birth date, seen timestamp, seen_tz timestamptz)`,
  );
  const rows: [string, number | null, string | null, string | null, string | null, string | null, string | null, string | null, string | null][] = [
    // label, age in days, email, name, note, ip, birth, seen, seen_tz
    ['old-1', 400, 'ada@example.com', 'Ada', 'called twice', '203.0.113.77', '1990-05-17', '2020-05-17T13:45:10', '2020-05-31T23:30:00Z'],
    ['old-2', 90, 'jürgen@example.de', 'Jürgen', null, '2001:db8:abcd:12:1:2:3:4', '1985-12-31', '2021-01-01T00:00:00', '2021-03-15T12:00:00Z'],
    ['old-3', 31, 'x@example.org', null, 'n', '10.1.2.3/8', null, null, null],
    ['recent', 10, 'grace@example.com', 'Grace', 'keep me', '198.51.100.9', '2000-02-29', '2024-02-29T10:00:00', '2024-02-29T10:00:00Z'],
    ['undated', null, 'nobody@example.com', 'Nobody', 'no anchor', '192.0.2.1', '1970-01-15', '1999-12-31T23:59:59', '1999-12-31T23:59:59Z'],
  ];
  for (const [label, age, ...values] of rows) {
    await env.sql(
      `INSERT INTO ${env.schema}.people (label, at, email, name, note, ip, birth, seen, seen_tz)
       VALUES ($1, now() - make_interval(days => $2::int), $3, $4, $5, $6, $7, $8, $9)`,
      [label, age, ...values],
    );
  }
}

async function people(): Promise<Record<string, Record<string, string | null>>> {
  const rows = await env.sql<Record<string, string | null>>(
    `SELECT label, email, name, note, ip::text AS ip, birth::text AS birth, seen::text AS seen,
            to_char(seen_tz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS seen_tz
       FROM ${env.schema}.people`,
  );
  return Object.fromEntries(rows.map((r) => [r.label!, r]));
}

const rule = (anonymize: Record<string, string>) => ({
  id: 'people',
  table: 'people',
  anchor: 'at',
  retain: 'P30D',
  action: 'anonymize',
  anonymize,
  batchSize: 100,
  limits: { maxFraction: 1 },
});

describe('anonymize strategies', () => {
  it('null, redact and hmac overwrite expired text, and a second run touches nothing', async () => {
    await createPeople();
    const before = await people();
    const config = env.config([rule({ name: 'null', note: 'redact', email: 'hmac' })]);
    const [first] = await env.run(config);
    expect(first!.sweep.rowsAffected).toBe(3);

    const after = await people();
    expect(after['old-1']).toMatchObject({ name: null, note: REDACTED, email: hmac('ada@example.com') });
    // UTF-8, as node hashes a string.
    expect(after['old-2']).toMatchObject({ name: null, note: null, email: hmac('jürgen@example.de') });
    expect(after['old-3']).toMatchObject({ name: null, note: REDACTED, email: hmac('x@example.org') });
    expect(after.recent).toEqual(before.recent);
    expect(after.undated).toEqual(before.undated);

    const [second] = await env.run(config);
    expect(second!.sweep.rowsAffected).toBe(0);
    expect(await people()).toEqual(after);
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });

  it('truncate-ip keeps an IPv4 /24 and an IPv6 /48, and a second run touches nothing', async () => {
    await createPeople();
    const before = await people();
    const config = env.config([rule({ ip: 'truncate-ip' })]);
    const [first] = await env.run(config);
    expect(first!.sweep.rowsAffected).toBe(3);

    const after = await people();
    expect(after['old-1']!.ip).toBe('203.0.113.0/24');
    expect(after['old-2']!.ip).toBe('2001:db8:abcd::/48');
    expect(after['old-3']!.ip).toBe('10.1.2.0/24');
    expect(after.recent).toEqual(before.recent);
    expect(after.undated).toEqual(before.undated);

    const [second] = await env.run(config);
    expect(second!.sweep.rowsAffected).toBe(0);
    expect(await people()).toEqual(after);
  });

  it('truncate-date truncates date, timestamp and timestamptz to the month, the last in the rule zone', async () => {
    await createPeople();
    const before = await people();
    const config = env.config([rule({ birth: 'truncate-date', seen: 'truncate-date', seen_tz: 'truncate-date' })], { timezone: 'Europe/Berlin' });
    const [first] = await env.run(config);
    // old-3 has no dates at all: nothing to anonymize, so it is not counted.
    expect(first!.sweep.rowsAffected).toBe(2);

    const after = await people();
    // 2020-05-31T23:30Z is June 1, 01:30 in Berlin: its month starts June 1 00:00 Berlin (22:00Z),
    // not May 1 as in UTC.
    expect(after['old-1']).toMatchObject({ birth: '1990-05-01', seen: '2020-05-01 00:00:00', seen_tz: '2020-05-31T22:00:00Z' });
    expect(after['old-2']).toMatchObject({ birth: '1985-12-01', seen: '2021-01-01 00:00:00', seen_tz: '2021-02-28T23:00:00Z' });
    expect(after['old-3']).toMatchObject({ birth: null, seen: null, seen_tz: null });
    expect(after.recent).toEqual(before.recent);
    expect(after.undated).toEqual(before.undated);

    const [second] = await env.run(config);
    expect(second!.sweep.rowsAffected).toBe(0);
    expect(await people()).toEqual(after);
  });

  it('does not hash a value it hashed itself again when another column of the row is still pending', async () => {
    // A rule that gained a column ({email: hmac} -> {email: hmac, name: null}) meets rows whose
    // email it already hashed. Hashing it twice would break the joins hmac exists for.
    await createPeople();
    await env.sql(`UPDATE ${env.schema}.people SET email = $1 WHERE label = 'old-1'`, [hmac('ada@example.com')]);
    const config = env.config([rule({ email: 'hmac', name: 'null' })]);
    const [first] = await env.run(config);
    expect(first!.sweep.rowsAffected).toBe(3);
    const after = await people();
    expect(after['old-1']).toMatchObject({ name: null, email: hmac('ada@example.com') });
    expect(after['old-2']).toMatchObject({ name: null, email: hmac('jürgen@example.de') });
  });

  it('hmacValue, the reference for what the SQL writes, follows the documented format: 64 hex for UTF-8 input', async () => {
    const key = Buffer.from(TEST_HMAC_KEY, 'utf8');
    for (const value of ['ada@example.com', 'jürgen@example.de', '']) {
      expect(hmacValue(key, value)).toBe(hmac(value));
      expect(hmacValue(key, value)).toMatch(/^[0-9a-f]{64}$/);
    }
  });
});
