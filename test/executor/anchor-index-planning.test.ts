import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { expiresAt } from '../../src/policy/expires-at.js';
import { expiredRanges } from '../../src/policy/expiry.js';
import { parseDuration } from '../../src/policy/duration.js';
import { expired } from '../../src/stores/selection.js';
import { auditOf, plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const ids = async (table: string) => (await env.sql<{ id: number }>(`SELECT id FROM ${env.schema}.${table} ORDER BY id`)).map((r) => r.id);

/**
 * Issue 8: a sweep is planned from what has expired, through the anchor index, not from the
 * whole key space: a sweep of a few newly expired rows of a big table is one batch, and a
 * sweep of none is no batch and one audit entry.
 */
describe('planning a sweep through the anchor index', () => {
  it('plans one batch for a few expired rows of a big table, and deletes exactly them', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '1 day' FROM generate_series(1, 20000)`);
    // Expired rows among them, low and high (late arrivals), one a second short of its end.
    await env.sql(`UPDATE ${env.schema}.logs SET at = now() - interval '40 days' WHERE id IN (3, 4, 5, 9000, 19999)`);
    await env.sql(`UPDATE ${env.schema}.logs SET at = now() - interval '30 days' + interval '1 hour' WHERE id = 10`);
    await env.sql(`ANALYZE ${env.schema}.logs`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 1000 }]);
    const runtime = await env.runtime(config);

    const sweep = await plannedSweep(env, config, runtime);
    // Walking the key space would make 20 batches (21 with the open end).
    expect(sweep.batchesTotal).toBe(1);
    expect((await executeBatch(runtime, sweep.id, 0)).rows).toBe(5);
    expect(await env.sql(`SELECT id FROM ${env.schema}.logs WHERE id IN (3, 4, 5, 9000, 19999, 10) ORDER BY id`)).toEqual([{ id: '10' }]);
    expect((await ids('logs')).length).toBe(19995);
    expect((await auditOf(env, sweep.id)).map((e) => [e.event, e.rows])).toEqual([
      ['batch', 5],
      ['sweep-finished', 5],
    ]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('plans no batch when nothing has expired, and writes one audit entry', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '1 day' FROM generate_series(1, 5000)`);
    await env.sql(`ANALYZE ${env.schema}.logs`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100 }]);
    const [result] = await env.run(config);

    expect(result!.sweep).toMatchObject({ status: 'done', batchesTotal: 0, rowsAffected: 0 });
    const entries = await env.sql<{ entry: { event: string; rows: number; batches?: unknown } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`,
      [result!.sweep.id],
    );
    expect(entries.map((e) => e.entry)).toMatchObject([{ event: 'sweep-finished', rows: 0, batches: { total: 0, empty: 0 } }]);
    expect((await ids('logs')).length).toBe(5000);
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });

  it('bounds batches by the expired rows’ keys, and covers rows changed or added after planning', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id integer PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    // 5000 rows, every 20th expired: 250 expired rows spread over the whole key space.
    await env.sql(
      `INSERT INTO ${env.schema}.logs SELECT g, CASE WHEN g % 20 = 0 THEN now() - interval '60 days' ELSE now() - interval '1 day' END FROM generate_series(1, 5000) g`,
    );
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100 }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    // Bounded by the 100th and 200th expired keys: three batches, not 51.
    expect(sweep.batchesTotal).toBe(3);

    // After planning: a renewed row (anchor moved to now) is kept; an expired row added
    // in the middle of the key space and one past the last key are deleted (the ranges
    // tile the whole key space), as their anchors are expired at the sweep's `now`.
    await env.sql(`UPDATE ${env.schema}.logs SET at = now() WHERE id = 2000`);
    await env.sql(`INSERT INTO ${env.schema}.logs VALUES (5001, now() - interval '90 days'), (999999, now() - interval '90 days')`);
    await env.sql(`UPDATE ${env.schema}.logs SET at = now() - interval '90 days' WHERE id = 2001`);

    const rows: number[] = [];
    for (let idx = 0; idx < sweep.batchesTotal; idx++) rows.push((await executeBatch(runtime, sweep.id, idx)).rows);
    expect(rows.every((n) => n <= 102)).toBe(true);
    expect(rows.reduce((a, b) => a + b, 0)).toBe(249 + 3);
    const left = new Set(await ids('logs'));
    for (let id = 1; id <= 5000; id++) {
      const expected = (id % 20 !== 0 || id === 2000) && id !== 2001;
      if (left.has(id) !== expected) throw new Error(`row ${id}: ${left.has(id) ? 'kept' : 'deleted'}, expected ${expected ? 'kept' : 'deleted'}`);
    }
    expect(left.has(5001) || left.has(999999)).toBe(false);
  });

  it('counts the table for the fraction limit only as far as the limit needs', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - CASE WHEN g <= 2000 THEN interval '60 days' ELSE interval '1 day' END FROM generate_series(1, 30000) g`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 1000, limits: { maxFraction: 0.2 } }]);
    const runtime = await env.runtime(config);
    const rule = config.rules[0]!;
    const store = runtime.storeFor(rule);
    expect(await store.total(rule)).toBe(30000);
    expect(await store.total(rule, 10001)).toBe(10001);
    expect(await store.total(rule, 40000)).toBe(30000);
    // 2000 of 30,000 is under 20%: the sweep runs; 2000 / 0.2 + 1 rows were enough to know.
    const [result] = await env.run(config);
    expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 2000 });
  });

  it('check warns of a big table whose anchor no index serves, and not once one does', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() FROM generate_series(1, 100000)`);
    await env.sql(`ANALYZE ${env.schema}.logs`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete' }]);
    const rule = config.rules[0]!;
    const warnings = async () => {
      const runtime = await env.runtime(config);
      return (await runtime.storeFor(rule).inspect(rule, 'rules[0]', runtime.contextFor(rule))).filter((p) => p.path === 'rules[0].anchor');
    };
    expect(await warnings()).toMatchObject([{ severity: 'warning', message: expect.stringMatching(/no index of .*logs starts with column at: every sweep walks the whole table/) }]);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    expect(await warnings()).toEqual([]);
  });

  it('falls back to key ranges over the table for a backlog bigger than a few batches', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '60 days' FROM generate_series(1, 1000)`);
    await env.sql(`ANALYZE ${env.schema}.logs`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P30D', action: 'delete', batchSize: 100 }]);
    const [result] = await env.run(config);
    // 1000 expired > 4 batches' worth: dense key ranges, 10 closed and the open end.
    expect(result!.sweep).toMatchObject({ status: 'done', batchesTotal: 11, rowsAffected: 1000 });
    expect(await ids('logs')).toEqual([]);
  });
});

/**
 * The rows planned and deleted through the anchor index are exactly those whose end
 * (`expiresAt`, luxon's calendar arithmetic in the zone) is at or before the sweep's
 * `now`, at month ends and across DST changes, for every anchor type. The expected set
 * is computed here from each row's instant, not by the SQL under test.
 */
describe('anchor-index planning at calendar edges', () => {
  const ZONE = 'Europe/Berlin';
  const cases = [
    { now: '2026-03-31T00:30:00+02:00', retain: 'P1M' },
    { now: '2026-03-29T03:30:00+02:00', retain: 'P1M' },
    { now: '2026-10-25T02:30:00+01:00', retain: 'P6M' },
    { now: '2026-02-28T23:00:00Z', retain: 'P18M' },
    { now: '2026-08-31T12:00:00+02:00', retain: 'P6M' },
  ];
  for (const type of ['timestamptz', 'timestamp', 'date'] as const) {
    it(`selects exactly the expired ${type} anchors`, async () => {
      await env.sql(`CREATE TABLE ${env.schema}.events (id serial PRIMARY KEY, at ${type} NOT NULL)`);
      await env.sql(`CREATE INDEX ON ${env.schema}.events (at)`);
      const config = env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1M', action: 'delete', batchSize: 100 }], { timezone: ZONE });
      const runtime = await env.runtime(config);
      for (const { now, retain } of cases) {
        const nowMs = Date.parse(now);
        const rule = { ...config.rules[0]!, retain, batchSize: 60 };
        const guess = DateTime.fromMillis(nowMs, { zone: ZONE }).minus(parseDuration(retain)).toJSDate();
        await env.sql(`TRUNCATE ${env.schema}.events`);
        // Anchors every 37 minutes (dates: every day) over a window around now - retain,
        // wide enough for month lengths; in Berlin's zone for wall-clock types.
        const step = type === 'date' ? "interval '1 day'" : "interval '37 minutes'";
        const cast = type === 'timestamptz' ? 't' : type === 'timestamp' ? `(t AT TIME ZONE '${ZONE}')` : `(t AT TIME ZONE '${ZONE}')::date`;
        await env.sql(
          `INSERT INTO ${env.schema}.events (at) SELECT ${cast} FROM generate_series($1::timestamptz - interval '5 days', $1::timestamptz + interval '5 days', ${step}) t`,
          [guess.toISOString()],
        );
        const instant = type === 'timestamptz' ? 'at' : type === 'timestamp' ? `at AT TIME ZONE '${ZONE}'` : `at::timestamp AT TIME ZONE '${ZONE}'`;
        const all = await env.sql<{ id: number; ms: string }>(`SELECT id, (extract(epoch FROM ${instant}) * 1000)::bigint::text AS ms FROM ${env.schema}.events`);
        const duration = parseDuration(retain);
        const expected = all.filter((r) => expiresAt(Number(r.ms), duration, ZONE) > nowMs).map((r) => r.id).sort((a, b) => a - b);
        expect(expected.length).toBeGreaterThan(0);
        expect(expected.length).toBeLessThan(all.length);

        const store = runtime.storeFor(rule);
        const selection = expired(expiredRanges(nowMs, duration, ZONE));
        const context = runtime.contextFor(rule);
        const batches = await store.partition(rule, selection, context);
        for (const keyRange of batches) await store.apply({ rule, selection, keyRange, dryRun: false, context });
        expect({ now, retain, left: await ids('events') }).toEqual({ now, retain, left: expected });
      }
    });
  }
});
