import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentsByRule } from './audit-incidents.js';
import { insertRows, type Row } from './insert-rows.js';
import { knownAges } from './known-ages.js';
import { createPolicyWorld, runAllConfirming, type PolicyWorld } from './policy-world.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * config/policies/percent.yaml as shipped, on its own schema (config/policies/percent.sql)
 * and its own Redis key prefix, with synthetic accounts, login logs and login sessions at
 * known ages: `check`, `run --all` (the login logs' sweep is over the 20% limit and is
 * confirmed with the token the run prints), then exactly which rows, values and sorted-set
 * members remain, the login logs cascaded with their accounts, the never-store incident,
 * `audit verify`, `coverage`, and `retention erase` of a deleted child's Redis logins.
 */

const ages = knownAges();
const HEX64 = /^[0-9a-f]{64}$/;
/**
 * Login logs of account 1 in bulk: the fraction limit applies to a sweep of over 1,000
 * rows, and 1,102 of 4,106 (27%) is over its default 20%.
 */
const BULK = { first: 1001, expired: 1100, recent: 3000 };

let world: PolicyWorld;
let redis: Redis;
let sessions: string;
let run: Awaited<ReturnType<typeof runAllConfirming>>;

function account(id: number, fields: Partial<Row>): Row {
  return {
    id,
    account_number: `PT-${id}`,
    name: `Name ${id}`,
    email: `user${id}@example.com`,
    phone: `+86 138 0000 ${String(id).padStart(4, '0')}`,
    password_hash: `$argon2id$${id}`,
    last_ip: `203.0.113.${id}`,
    is_child: false,
    parental_consent_requested_at: null,
    parental_consent_received_at: null,
    created_at: ages.ago({ days: 4000 }),
    last_active_at: ages.ago({ days: 1 }),
    closed_at: null,
    ...fields,
  };
}

/** A closed account: its last activity was its closing. */
const closed = (id: number, at: ReturnType<typeof ages.ago>): Row => account(id, { closed_at: at, last_active_at: at });

const ACCOUNTS: Row[] = [
  account(1, {}),
  // percent-inactive-accounts: open accounts unused for five years (with their login logs).
  account(2, { last_active_at: ages.longExpired('P5Y') }),
  account(3, { last_active_at: ages.justExpired('P5Y') }),
  account(4, { last_active_at: ages.notYet('P5Y') }),
  // Unused for five years, but closed: the closing rules' (10 days ago: none yet).
  account(5, { last_active_at: ages.longExpired('P5Y'), closed_at: ages.ago({ days: 10 }) }),
  // percent-closed-account-personal-data: name, phone and password hash 30 days after closing.
  closed(6, ages.longExpired('P30D')),
  closed(7, ages.justExpired('P30D')),
  closed(8, ages.notYet('P30D')),
  // percent-closed-accounts: anonymized three years after closing.
  closed(9, ages.longExpired('P3Y')),
  closed(10, ages.justExpired('P3Y')),
  closed(11, ages.notYet('P3Y')),
  // percent-children-without-consent: a child's account whose parent's consent was never asked for: deleted at once.
  account(12, { is_child: true, created_at: ages.ago({ minutes: 1 }), last_active_at: ages.ago({ minutes: 1 }) }),
  // Consent received (verified or not yet): kept, however long ago it was asked for.
  account(13, { is_child: true, parental_consent_requested_at: ages.longExpired('P7D'), parental_consent_received_at: ages.ago({ days: 6 }), created_at: ages.ago({ days: 40 }) }),
  // percent-children-consent-not-given: asked for, not given: pending for 7 days, then deleted (with its login logs).
  account(14, { is_child: true, parental_consent_requested_at: ages.ago({ days: 1 }), created_at: ages.ago({ days: 1 }) }),
  account(15, { is_child: true, parental_consent_requested_at: ages.justExpired('P7D'), created_at: ages.ago({ days: 8 }) }),
  account(16, { is_child: true, parental_consent_requested_at: ages.notYet('P7D'), created_at: ages.ago({ days: 7 }) }),
  // percent-last-ip: the last IP address six months after the last activity.
  account(17, { last_active_at: ages.longExpired('P6M') }),
  account(18, { last_active_at: ages.justExpired('P6M') }),
  account(19, { last_active_at: ages.notYet('P6M') }),
];

const log = (id: number, accountId: number, at: ReturnType<typeof ages.ago>): Row => ({ id, account_id: accountId, ip: '198.51.100.7', user_agent: 'Mozilla/5.0', logged_in_at: at });

const LOGS: Row[] = [
  log(1, 1, ages.longExpired('P6M')),
  log(2, 1, ages.justExpired('P6M')),
  log(3, 1, ages.notYet('P6M')),
  log(4, 1, ages.ago({ days: 1 })),
  // The child's login: goes with the account (ON DELETE CASCADE, `cascades: allow`).
  log(5, 12, ages.ago({ minutes: 1 })),
  log(6, 13, ages.ago({ minutes: 1 })),
  // Logins younger than six months (percent-login-logs keeps them) on accounts other rules
  // delete: they go with their account, counted in the audit as cascaded.
  log(7, 2, ages.ago({ days: 1 })),
  log(8, 3, ages.ago({ days: 1 })),
  log(9, 15, ages.ago({ days: 1 })),
  log(10, 14, ages.ago({ days: 1 })),
  ...Array.from({ length: BULK.expired }, (_, i) => log(BULK.first + i, 1, ages.longExpired('P6M').minus({ minutes: i }))),
  ...Array.from({ length: BULK.recent }, (_, i) => log(BULK.first + BULK.expired + i, 1, ages.ago({ days: 1, minutes: i }))),
];

beforeAll(async () => {
  world = await createPolicyWorld('percent');
  sessions = `${world.prefix}-sessions`;
  world.setEnv({ PERCENT_SESSION_PREFIX: sessions });
  world.ownKeys(`${sessions}:*`);
  await insertRows(world.db, 'percent.accounts', ACCOUNTS);
  await insertRows(world.db, 'percent.login_logs', LOGS);
  redis = new Redis(REDIS_URL);
  const ms = (t: ReturnType<typeof ages.ago>) => t.toMillis();
  await redis.zadd(`${sessions}:logins:1`, ms(ages.longExpired('P6M')), 's-old', ms(ages.justExpired('P6M')), 's-edge', ms(ages.notYet('P6M')), 's-young', ms(ages.ago({ hours: 2 })), 's-today');
  await redis.zadd(`${sessions}:logins:2`, ms(ages.longExpired('P6M')), 's-a', ms(ages.justExpired('P6M')), 's-b');
  // A buggy writer's score in seconds (January 1970 read as ms): implausible, never removed.
  await redis.zadd(`${sessions}:logins:4`, Math.floor(ms(ages.longExpired('P6M')) / 1000), 's-seconds');
  // Another type under the pattern, and a key outside it: neither is the rule's.
  await redis.hset(`${sessions}:logins:3`, 'at', String(ms(ages.longExpired('P6M'))));
  // The logins of the child deleted at once: no rule reaches them before six months; retention erase does (below).
  await redis.zadd(`${sessions}:logins:12`, ms(ages.ago({ minutes: 1 })), 's-child');
  await redis.zadd(`${sessions}:profile:1`, ms(ages.longExpired('P6M')), 'not-a-login');

  const check = await world.cli(['check']);
  expect(check.stderr).toBe('');
  expect(check.code).toBe(0);
  run = await runAllConfirming(world);
});

afterAll(async () => {
  redis?.disconnect();
  await world?.cleanup();
});

const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => String(from + i));

interface ListedEntry {
  entry: { event: string; ruleId?: string; cascaded?: Record<string, number> };
}

/** Rows each rule's batches removed from other tables through ON DELETE CASCADE, from `audit list --json`. */
async function cascadedByRule(): Promise<Record<string, Record<string, number>>> {
  const listed = await world.cli(['audit', 'list', '--json', '--limit', '1000']);
  if (listed.code !== 0) throw new Error(`audit list exited ${listed.code}: ${listed.stderr}`);
  const out: Record<string, Record<string, number>> = {};
  for (const { entry } of JSON.parse(listed.stdout) as ListedEntry[]) {
    if (entry.event !== 'batch' || !entry.ruleId || !entry.cascaded) continue;
    const rule = (out[entry.ruleId] ??= {});
    for (const [table, n] of Object.entries(entry.cascaded)) if (n > 0) rule[table] = (rule[table] ?? 0) + n;
  }
  return out;
}

describe('config/policies/percent.yaml', () => {
  it('passes check (in beforeAll), blocks the login logs\' sweep over its 20% limit, and finishes it once confirmed', () => {
    expect(run.confirmed).toEqual(['percent-login-logs']);
    expect(Object.fromEntries([...run.rules.values()].map((r) => [r.id, r.status]))).toEqual({
      'percent-login-logs': 'done',
      'percent-login-sessions': 'done',
      'percent-last-ip': 'done',
      'percent-closed-account-personal-data': 'done',
      'percent-closed-accounts': 'done',
      'percent-inactive-accounts': 'done',
      'percent-children-without-consent': 'done',
      'percent-children-consent-not-given': 'done',
    });
    expect(run.rules.get('percent-login-logs')!.affected).toBe(BULK.expired + 2);
  });

  it('deletes login logs six months after the login, and any account\'s logs with the account', async () => {
    expect(await world.ids('percent.login_logs')).toEqual(['3', '4', '6', '10', ...range(BULK.first + BULK.expired, BULK.recent)]);
  });

  it('records the login logs deleted with their accounts as cascaded, per rule', async () => {
    expect(await cascadedByRule()).toEqual({
      'percent-inactive-accounts': { 'percent.login_logs': 2 },
      'percent-children-without-consent': { 'percent.login_logs': 1 },
      'percent-children-consent-not-given': { 'percent.login_logs': 1 },
    });
  });

  it('removes logins older than six months from the Redis sorted sets, and nothing else', async () => {
    const members = async (key: string) => (await redis.zrange(key, 0, -1)).sort();
    expect(await members(`${sessions}:logins:1`)).toEqual(['s-today', 's-young']);
    expect(await redis.exists(`${sessions}:logins:2`)).toBe(0);
    expect(await members(`${sessions}:logins:4`)).toEqual(['s-seconds']);
    expect(await redis.hgetall(`${sessions}:logins:3`)).toEqual({ at: String(ages.longExpired('P6M').toMillis()) });
    expect(await members(`${sessions}:profile:1`)).toEqual(['not-a-login']);
  });

  it('deletes open accounts inactive for five years, a child\'s never asked for consent at once, and one asked 7 days after the request', async () => {
    expect(await world.ids('percent.accounts')).toEqual(['1', '4', '5', '6', '7', '8', '9', '10', '11', '13', '14', '16', '17', '18', '19']);
  });

  it('erases personal data 30 days after closing, the last IP six months after the last activity, and everything identifying three years after closing', async () => {
    const rows = await world.sql<Record<string, string | boolean | null>>(
      `SELECT id::text AS id, account_number, name, email, phone, password_hash, last_ip::text AS last_ip,
              created_at = date_trunc('month', created_at, 'UTC') AS month_start
         FROM percent.accounts`,
    );
    const state = (r: Record<string, string | boolean | null>): string => {
      const id = r.id as string;
      const personal = r.name === `Name ${id}` && r.phone !== null && r.password_hash === `$argon2id$${id}`;
      const erased = r.name === null && r.phone === null && r.password_hash === null;
      const account = r.account_number === `PT-${id}` && r.email === `user${id}@example.com` && r.month_start === false;
      const anonymized = r.account_number === null && r.email === null && r.month_start === true;
      const ip = r.last_ip === `203.0.113.${id}/32` ? 'ip' : r.last_ip === null ? 'no ip' : `ip ${String(r.last_ip)}`;
      if (personal && account) return `intact, ${ip}`;
      if (erased && account) return `personal data erased, ${ip}`;
      if (erased && anonymized) return `anonymized, ${ip}`;
      return `unexpected: ${JSON.stringify(r)}`;
    };
    expect(Object.fromEntries(rows.map((r) => [r.id, state(r)]))).toEqual({
      1: 'intact, ip',
      4: 'intact, no ip',
      5: 'intact, no ip',
      6: 'personal data erased, ip',
      7: 'personal data erased, ip',
      8: 'intact, ip',
      9: 'anonymized, no ip',
      10: 'anonymized, no ip',
      11: 'personal data erased, no ip',
      13: 'intact, ip',
      14: 'intact, ip',
      16: 'intact, ip',
      17: 'intact, no ip',
      18: 'intact, no ip',
      19: 'intact, ip',
    });
  });

  it('records the child\'s account found without consent ever asked for as a never-store incident', async () => {
    expect(await incidentsByRule(world)).toEqual({ 'percent-children-without-consent': 1 });
  });

  it('leaves an audit log that verifies', async () => {
    const verify = await world.cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it('leaves no personal-data column of its schema uncovered, and says the Redis sessions were not inspected', async () => {
    const coverage = await world.cli(['coverage', '--json']);
    expect(coverage.code).toBe(0);
    const report = JSON.parse(coverage.stdout);
    expect(report).toMatchObject({ ok: true, inspected: ['app'], uncoveredColumns: [], unruledEntries: [], missing: [] });
    // Coverage reads PostgreSQL only: the Redis store's rule and inventory entry are listed, not checked.
    expect(report.notInspected).toEqual([{ store: 'sessions', kind: 'redis', entries: ['rules[1]', 'inventory[2]'] }]);
  });

  // Changes what the tests above read: last.
  it('leaves the deleted child\'s Redis logins to the next six months, and retention erase removes them at once', async () => {
    expect(await redis.zrange(`${sessions}:logins:12`, 0, -1)).toEqual(['s-child']);
    const erase = await world.cli(['erase', '--subject', '12', '--json', '--actor', 'policy-test']);
    expect(erase.stderr).toBe('');
    expect(erase.code).toBe(0);
    expect(await redis.exists(`${sessions}:logins:12`)).toBe(0);
    // Nobody else's logins moved.
    expect((await redis.zrange(`${sessions}:logins:1`, 0, -1)).sort()).toEqual(['s-today', 's-young']);
  });
});
