import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { executeSunset, type SunsetOutcome, type SunsetReceipt } from '../../src/executor/apply-sunset.js';
import { addHold } from '../../src/executor/place-hold.js';
import { planSunset } from '../../src/executor/sunset-plan.js';
import { formatPlan, formatReceipt } from '../../src/cli/sunset.js';
import type { Config } from '../../src/policy/config.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/stores/store.js';
import { sunsetScope } from '../../src/sunset/sunset-scope.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * A sunset across tables that reference one another, and a sunset cut short: children go
 * before the rows they reference (so nothing is deleted through a cascade unaudited); a
 * sunset interrupted after its first batch leaves what it did done, the next plan counts
 * what remains and an execute with that plan's token finishes it; a hold on a whole rule
 * skips that rule.
 */

const USERS = 30;
const ORDERS_PER_USER = 10;

let env: TestEnv;
let config: Config;
let runtime: Runtime;

beforeEach(async () => {
  env = await createTestEnv();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, uid text NOT NULL UNIQUE, email text, closed_at timestamptz);
    CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, uid text NOT NULL REFERENCES ${s}.users (uid) ON DELETE CASCADE, created_at timestamptz NOT NULL DEFAULT now());
    INSERT INTO ${s}.users (uid, email) SELECT 'u' || g, 'u' || g || '@x.test' FROM generate_series(1, ${USERS}) g;
    INSERT INTO ${s}.orders (uid) SELECT 'u' || (g % ${USERS} + 1) FROM generate_series(1, ${USERS * ORDERS_PER_USER}) g;
  `);
  // The parent first in the config: the sunset must still take the children first.
  config = env.config(
    [
      { id: 'users', table: 'users', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid', cascades: 'allow', batchSize: 100 },
      { id: 'orders', table: 'orders', anchor: 'created_at', retain: 'P5Y', action: 'delete', subject: 'uid', batchSize: 100 },
    ],
    {
      inventory: [
        { store: 'app', table: `${s}.users`, columns: { email: 'email' } },
        { store: 'app', table: `${s}.orders`, categories: ['payment'] },
      ],
    },
  );
  runtime = await env.runtime(config);
});

afterEach(async () => {
  await env.cleanup();
});

const scope = () => sunsetScope(config, (_store, written) => written);

async function rows(table: string): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.${table}`))[0]!.n);
}

function executed(outcome: SunsetOutcome): SunsetReceipt {
  if (outcome.status !== 'executed') throw new Error(`sunset ${outcome.status}`);
  return outcome.receipt;
}

/**
 * The runtime with each store's `apply` observed: `after` runs once a batch has committed
 * (the real store did the work), so a test can stop the sunset at a known point.
 */
function observed(after: (rule: string) => void): Runtime {
  const wrap = (store: Store): Store =>
    new Proxy(store, {
      get(target, property) {
        if (property === 'apply') {
          return async (...args: Parameters<Store['apply']>) => {
            const result = await target.apply(...args);
            after(args[0].rule.id);
            return result;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  return { ...runtime, storeFor: (rule) => wrap(runtime.storeFor(rule)) };
}

describe('sunset order and resumption', () => {
  it('deletes the children before the rows they reference, so nothing goes through a cascade unaudited', async () => {
    const plan = await planSunset(runtime, scope());
    expect(plan.rules.map((r) => r.id)).toEqual(['orders', 'users']);
    const receipt = executed(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' }));
    const line = (id: string) => receipt.rules.find((r) => r.id === id)!;
    // Short batches: key ranges of 100, the last one open.
    expect(line('orders')).toMatchObject({ status: 'done', changed: USERS * ORDERS_PER_USER, batches: 4 });
    expect(line('users')).toMatchObject({ status: 'done', changed: USERS, cascaded: {} });
    expect(await rows('orders')).toBe(0);
    expect(await rows('users')).toBe(0);
  });

  it('interrupted after its first batch, keeps what it did; the next plan counts what remains and its token finishes it', async () => {
    const first = await planSunset(runtime, scope());
    expect(first.rules.map((r) => [r.id, r.affected])).toEqual([
      ['orders', USERS * ORDERS_PER_USER],
      ['users', USERS],
    ]);
    const stop = new AbortController();
    const cut = executed(await executeSunset(observed(() => stop.abort()), scope(), { token: first.token, actor: 'test', signal: stop.signal }));
    expect(cut.complete).toBe(false);
    expect(cut.interrupted).toBe(true);
    const orders = cut.rules.find((r) => r.id === 'orders')!;
    expect(orders).toMatchObject({ status: 'incomplete', changed: 100, batches: 1, reason: 'interrupted after 1 of 4 key ranges' });
    expect(cut.rules.find((r) => r.id === 'users')).toMatchObject({ status: 'not-started', changed: 0 });
    expect(await rows('orders')).toBe(USERS * ORDERS_PER_USER - 100);
    expect(await rows('users')).toBe(USERS);

    // The old token is the plan of a state that is gone.
    expect((await executeSunset(runtime, scope(), { token: first.token, actor: 'test' })).status).toBe('stale');
    const second = await planSunset(runtime, scope());
    expect(second.rules.map((r) => [r.id, r.affected])).toEqual([
      ['orders', USERS * ORDERS_PER_USER - 100],
      ['users', USERS],
    ]);
    const done = executed(await executeSunset(runtime, scope(), { token: second.token, actor: 'test' }));
    expect(done.complete).toBe(true);
    expect(done.totals.changed).toBe(USERS * ORDERS_PER_USER - 100 + USERS);
    expect(await rows('orders')).toBe(0);
    expect(await rows('users')).toBe(0);
    const closings = await env.sql<{ entry: { complete: boolean } }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'sunset-finished' ORDER BY seq`);
    expect(closings.map((c) => c.entry.complete)).toEqual([false, true]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('skips a rule on legal hold, whole, and says so in the plan and the receipt', async () => {
    const hold = await addHold(runtime, { ruleId: 'users', reason: 'litigation 2026-3', actor: 'legal:kim' });
    const plan = await planSunset(runtime, scope());
    expect(plan.rules.find((r) => r.id === 'users')).toMatchObject({ affected: 0, held: USERS, ruleHold: { id: hold.id, reason: 'litigation 2026-3' } });
    // A hold on a whole rule keeps that rule only.
    expect(plan.rules.find((r) => r.id === 'orders')).toMatchObject({ affected: USERS * ORDERS_PER_USER, ruleHold: null });
    const receipt = executed(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' }));
    expect(receipt.rules.find((r) => r.id === 'users')).toMatchObject({ status: 'held', changed: 0, heldByRule: { id: hold.id } });
    expect(receipt.complete).toBe(true);
    expect(await rows('users')).toBe(USERS);
    expect(await rows('orders')).toBe(0);
  });

  it('names an earlier sunset that crashed before its closing entry in the next plan, sunset-started entry and receipt', async () => {
    const first = await planSunset(runtime, scope());
    expect(first.unfinished).toEqual([]);
    // The process dies once the rules' batches committed, before the outbox drain and the
    // sunset-finished entry: what a crash after a change and before its record leaves.
    let applied = false;
    const base = observed(() => (applied = true));
    const crashing: Runtime = {
      ...base,
      stores: () => {
        if (applied) throw new Error('simulated crash');
        return runtime.stores();
      },
    };
    await expect(executeSunset(crashing, scope(), { token: first.token, actor: 'test' })).rejects.toThrow('simulated crash');
    const started = await env.sql<{ seq: string; at: Date; entry: { sunsetId: string } }>(
      `SELECT seq, at, entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'sunset-started' ORDER BY seq`,
    );
    expect(started).toHaveLength(1);
    const crashed = { sunsetId: started[0]!.entry.sunsetId, startedSeq: Number(started[0]!.seq), startedAt: started[0]!.at.toISOString() };
    expect(await env.sql(`SELECT 1 FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'sunset-finished'`)).toHaveLength(0);
    const last = Number((await env.sql<{ n: string }>(`SELECT max(seq) AS n FROM ${env.stateSchema}.audit_log`))[0]!.n);

    await env.sql(`INSERT INTO ${env.schema}.users (uid, email) VALUES ('late', 'late@x.test')`);
    const second = await planSunset(runtime, scope());
    expect(second.unfinished).toEqual([{ ...crashed, lastSeq: last }]);
    expect(formatPlan(config, second)).toContain(`sunset ${crashed.sunsetId}: sunset-started #${crashed.startedSeq} at ${crashed.startedAt}, last entry #${last}, no sunset-finished`);
    const receipt = executed(await executeSunset(runtime, scope(), { token: second.token, actor: 'test' }));
    expect(receipt.complete).toBe(true);
    expect(receipt.unfinished).toEqual([{ ...crashed, lastSeq: last }]);
    expect(formatReceipt(receipt)).toContain(`Earlier sunsets started and never finished`);
    const entry = await env.sql<{ entry: { unfinished?: unknown } }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE seq = $1`, [receipt.started.seq]);
    expect(entry[0]!.entry.unfinished).toEqual([{ ...crashed, lastSeq: last }]);
    // The sunset that finished is not named; the crashed one still is.
    expect((await planSunset(runtime, scope())).unfinished.map((u) => u.sunsetId)).toEqual([crashed.sunsetId]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('lets one sunset run at a time', async () => {
    const plan = await planSunset(runtime, scope());
    // A running sunset holds this lock for its whole run; taken here by hand.
    const client = await runtime.state.db.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', [`retention-sunset:${runtime.state.schema}`]);
      expect(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' })).toEqual({ status: 'busy' });
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [`retention-sunset:${runtime.state.schema}`]);
    } finally {
      client.release();
    }
    expect(await rows('orders')).toBe(USERS * ORDERS_PER_USER);
    expect(executed(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' })).complete).toBe(true);
  });
});
