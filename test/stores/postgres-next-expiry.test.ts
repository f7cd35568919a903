import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nextExpiry, sweepLag } from '../../src/executor/next-expiry.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import type { Rule } from '../../src/policy/rule.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { expired } from '../../src/stores/selection.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * Next-expiry scheduling against the real database: the instant the executor finds for a
 * rule's next expiry (through `Store.nextExpiring`) is the one at which a sweep selects
 * the row, not a millisecond later, whatever the anchor's type, zone and the calendar;
 * and the lag (`Store.oldestPending`) is measured from the oldest expired row's end.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const ms = (iso: string, zone = 'UTC') => DateTime.fromISO(iso, { zone }).toMillis();

interface Fixture {
  runtime: Runtime;
  rule: Rule;
}

/** A table `t` with `anchor` of `type`, the given rows (label -> literal), and a rule over it. */
async function fixture(type: string, rows: Record<string, string>, rule: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<Fixture> {
  await env.sql(`CREATE TABLE ${env.schema}.t (id bigserial PRIMARY KEY, label text NOT NULL, kind text NOT NULL DEFAULT 'a', at ${type})`);
  await env.sql(`CREATE INDEX ON ${env.schema}.t (at)`);
  for (const [label, literal] of Object.entries(rows)) await env.sql(`INSERT INTO ${env.schema}.t (label, at) VALUES ($1, $2)`, [label, literal]);
  const config = env.config([{ id: 'r', table: 't', anchor: 'at', action: 'delete', schedule: 'PT1H', ...rule }], extra);
  return { runtime: await env.runtime(config), rule: config.rules[0]! };
}

/** The next expiry after a sweep planned at `now`; its instant must select exactly one more row than 1 ms before. */
async function expectNext(f: Fixture, now: number, expected: { at: number }): Promise<void> {
  const next = await nextExpiry(f.runtime, f.rule, planSweep(f.rule, new Date(now)).ranges);
  expect(next && new Date(next.at).toISOString()).toBe(new Date(expected.at).toISOString());
  const store = f.runtime.storeFor(f.rule);
  const count = async (at: number) => store.count(f.rule, expired(planSweep(f.rule, new Date(at)).ranges), f.runtime.contextFor(f.rule));
  expect(await count(expected.at)).toBe((await count(expected.at - 1)) + 1);
}

describe('next expiry through the anchor index', () => {
  it('P1M: the Jan 31 row expires before the smaller Jan 28 13:00 anchor, and is the one scheduled', async () => {
    const f = await fixture('timestamptz', { a: '2026-01-28T13:00:00Z', b: '2026-01-31T12:00:00Z', c: '2026-02-10T00:00:00Z' }, { retain: 'P1M' });
    // The store's first answer is the smallest anchor ...
    const smallest = await f.runtime.storeFor(f.rule).nextExpiring!(f.rule, planSweep(f.rule, new Date(ms('2026-02-01T00:00:00'))).ranges);
    expect(smallest).toBe(ms('2026-01-28T13:00:00'));
    // ... but the next expiry is the month-end row's: Feb 28 12:00, an hour sooner.
    await expectNext(f, ms('2026-02-01T00:00:00'), { at: ms('2026-02-28T12:00:00') });
    // After a sweep at that instant took it, the Jan 28 row's end is next.
    await expectNext(f, ms('2026-02-28T12:00:00'), { at: ms('2026-02-28T13:00:00') });
  });

  it('P18M from Aug 31 is due on Feb 28 a year and a half later', async () => {
    const f = await fixture('timestamptz', { a: '2024-08-31T08:30:00Z', b: '2024-09-01T00:00:00Z' }, { retain: 'P18M' });
    await expectNext(f, ms('2026-01-01T00:00:00'), { at: ms('2026-02-28T08:30:00') });
  });

  it('skips rows already expired at the sweep (held, or the backlog) and rows the where filter leaves out', async () => {
    const f = await fixture('timestamptz', { old: '2025-01-01T00:00:00Z', other: '2026-01-02T00:00:00Z', next: '2026-01-03T00:00:00Z' }, {
      retain: 'P1D',
      where: { kind: 'a' },
    });
    await env.sql(`UPDATE ${env.schema}.t SET kind = 'b' WHERE label = 'other'`);
    await expectNext(f, ms('2026-01-02T00:00:00'), { at: ms('2026-01-04T00:00:00') });
    // Nothing left to expire after it: none.
    expect(await nextExpiry(f.runtime, f.rule, planSweep(f.rule, new Date(ms('2026-01-04T00:00:00'))).ranges)).toBeNull();
  });

  it('a timestamp without time zone in a spring-forward gap: the row whose wall time is later but instant earlier is next', async () => {
    // Berlin, 2026-03-29: clocks jump 02:00 -> 03:00. PostgreSQL reads the wall time 02:30,
    // which no clock showed, as 01:30Z; 03:10 is 01:10Z: ordered by column, the 02:30 row
    // comes first, but the 03:10 row expires 20 minutes sooner.
    const zone = 'Europe/Berlin';
    const f = await fixture('timestamp', { gap: '2026-03-29 02:30:00', after: '2026-03-29 03:10:00' }, { retain: 'PT1H' }, { timezone: zone });
    await expectNext(f, ms('2026-03-29T00:00:00Z'), { at: ms('2026-03-29T02:10:00Z') });
    await expectNext(f, ms('2026-03-29T02:10:00Z'), { at: ms('2026-03-29T02:30:00Z') });
  });

  it('a timestamp without time zone read in its anchor zone, and a date column, at calendar edges', async () => {
    const zone = 'America/New_York';
    const wall = await fixture('timestamp', { a: '2026-01-31 12:00:00', b: '2026-02-01 00:00:00' }, { retain: 'P1M' }, { timezone: zone });
    await expectNext(wall, ms('2026-02-01T00:00:00', zone), { at: ms('2026-02-28T12:00:00', zone) });
    await env.sql(`DROP TABLE ${env.schema}.t`);
    const dates = await fixture('date', { a: '2026-03-07', b: '2026-03-09' }, { retain: 'P1D' }, { timezone: zone });
    // 2026-03-08 is 23 hours long in New York: the date 03-07 (midnight EST) ends at midnight EDT.
    await expectNext(dates, ms('2026-03-07T12:00:00', zone), { at: ms('2026-03-08T00:00:00', zone) });
  });

  it('without an index on the anchor there is none: the probe would read the table, the rule keeps to its schedule', async () => {
    const f = await fixture('timestamptz', { a: '2026-01-03T00:00:00Z' }, { retain: 'P1D' });
    await env.sql(`DROP INDEX ${env.schema}.t_at_idx`);
    const fresh = await env.runtime(env.config([{ id: 'r', table: 't', anchor: 'at', action: 'delete', retain: 'P1D' }]));
    expect(await nextExpiry(fresh, f.rule, planSweep(f.rule, new Date(ms('2026-01-01T00:00:00'))).ranges)).toBeNull();
  });

  it('an anchor with microseconds is due at the millisecond after it, when the whole millisecond has expired', async () => {
    const f = await fixture('timestamptz', { a: '2026-01-01T00:00:00.000500Z' }, { retain: 'PT1H' });
    await expectNext(f, ms('2026-01-01T00:00:00'), { at: ms('2026-01-01T01:00:00.001') });
  });
});

describe('lag', () => {
  it('is now minus the end of the oldest expired row still present, held subjects left out when named', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.t (id bigserial PRIMARY KEY, label text NOT NULL, who text, at timestamptz)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.t (at)`);
    await env.sql(`INSERT INTO ${env.schema}.t (label, who, at) VALUES ('held', 'ann', '2026-01-01T00:00:00Z'), ('late', 'bob', '2026-01-05T06:00:00Z'), ('fresh', 'cy', '2026-01-09T00:00:00Z')`);
    const config = env.config([{ id: 'r', table: 't', anchor: 'at', subject: 'who', action: 'delete', retain: 'P1D' }]);
    const runtime = await env.runtime(config);
    const rule = config.rules[0]!;
    const now = new Date(ms('2026-01-08T00:00:00'));
    const { ranges } = planSweep(rule, now);
    expect(await sweepLag(runtime, rule, now, ranges)).toEqual({ lagMs: 6 * 86_400_000, oldestExpiredEnd: '2026-01-02T00:00:00.000Z' });
    expect(await sweepLag(runtime, rule, now, ranges, ['ann'])).toEqual({ lagMs: 2 * 86_400_000 - 6 * 3_600_000, oldestExpiredEnd: '2026-01-06T06:00:00.000Z' });
    await env.sql(`DELETE FROM ${env.schema}.t WHERE label <> 'fresh'`);
    expect(await sweepLag(runtime, rule, now, ranges)).toEqual({ lagMs: 0, oldestExpiredEnd: null });
  });

  it('an anonymize rule: rows already anonymized are not late', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.t (id bigserial PRIMARY KEY, ip text, at timestamptz)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.t (at)`);
    await env.sql(`INSERT INTO ${env.schema}.t (ip, at) VALUES (NULL, '2026-01-01T00:00:00Z'), ('10.0.0.1', '2026-01-03T00:00:00Z')`);
    const config = env.config([{ id: 'r', table: 't', anchor: 'at', action: 'anonymize', anonymize: { ip: 'null' }, retain: 'P1D' }]);
    const runtime = await env.runtime(config);
    const rule = config.rules[0]!;
    const now = new Date(ms('2026-01-05T00:00:00'));
    expect(await sweepLag(runtime, rule, now, planSweep(rule, now).ranges)).toEqual({ lagMs: 86_400_000, oldestExpiredEnd: '2026-01-04T00:00:00.000Z' });
  });
});
