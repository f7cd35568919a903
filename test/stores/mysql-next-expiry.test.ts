import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextExpiry, sweepLag } from '../../src/executor/next-expiry.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import type { Rule } from '../../src/policy/rule.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { MysqlStore } from '../../src/stores/mysql/mysql-store.js';
import { expired } from '../../src/stores/selection.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

/**
 * Next-expiry scheduling on MariaDB: the instant found for a rule's next expiry selects the
 * row there and not a millisecond before, for TIMESTAMP and for DATETIME read in a zone,
 * including a reading in a spring-forward gap; and the lag of the oldest expired row.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const ms = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toMillis();

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

/** The executor's view of one store: what nextExpiry and sweepLag ask a runtime for. */
function runtimeOf(store: MysqlStore): Runtime {
  return { storeFor: () => store, contextFor: () => CONTEXT } as unknown as Runtime;
}

async function table(type: string, readings: string[]): Promise<void> {
  await env.sql(`CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, at ${type} NULL, INDEX (at))`);
  for (const reading of readings) await env.sql('INSERT INTO events (at) VALUES (?)', [reading]);
}

async function expectNext(store: MysqlStore, rule: Rule, now: number, at: number): Promise<void> {
  const next = await nextExpiry(runtimeOf(store), rule, planSweep(rule, new Date(now)).ranges);
  expect(next && new Date(next.at).toISOString()).toBe(new Date(at).toISOString());
  const count = (t: number) => store.count(rule as never, expired(planSweep(rule, new Date(t)).ranges), CONTEXT);
  expect(await count(at)).toBe((await count(at - 1)) + 1);
}

describe('next expiry on MariaDB', () => {
  it('TIMESTAMP, P1M: the Jan 31 row expires before the smaller Jan 28 13:00 anchor', async () => {
    await table('TIMESTAMP(6)', ['2026-01-28 13:00:00', '2026-01-31 12:00:00']);
    const store = env.store();
    const rule = env.rule({ retain: 'P1M' }) as unknown as Rule;
    await expectNext(store, rule, ms('2026-02-01T00:00:00'), ms('2026-02-28T12:00:00'));
    await expectNext(store, rule, ms('2026-02-28T12:00:00'), ms('2026-02-28T13:00:00'));
  });

  it('DATETIME in Berlin: a reading in the spring-forward gap comes after the real 03:10', async () => {
    await table('DATETIME(6)', ['2026-03-29 02:30:00', '2026-03-29 03:10:00', '2026-03-29 04:00:00.000500']);
    const store = env.store();
    const rule = env.rule({ retain: 'PT1H', timezone: 'Europe/Berlin', target: { anchorZone: { name: 'Europe/Berlin', from: 'rule' } } }) as unknown as Rule;
    await expectNext(store, rule, ms('2026-03-29T00:00:00Z'), ms('2026-03-29T02:10:00Z'));
    await expectNext(store, rule, ms('2026-03-29T02:10:00Z'), ms('2026-03-29T02:30:00Z'));
    // 04:00:00.0005 CEST: due at the millisecond after, when all of its millisecond has expired.
    await expectNext(store, rule, ms('2026-03-29T02:30:00Z'), ms('2026-03-29T03:00:00.001Z'));
  });

  it('lag: now minus the end of the oldest expired row still present', async () => {
    await table('TIMESTAMP(6)', ['2026-01-01 06:00:00', '2026-01-09 00:00:00']);
    const store = env.store();
    const rule = env.rule({ retain: 'P1D' }) as unknown as Rule;
    const now = new Date(ms('2026-01-05T00:00:00'));
    expect(await sweepLag(runtimeOf(store), rule, now, planSweep(rule, now).ranges)).toEqual({ lagMs: 2 * 86_400_000 + 18 * 3_600_000, oldestExpiredEnd: '2026-01-02T06:00:00.000Z' });
  });
});
