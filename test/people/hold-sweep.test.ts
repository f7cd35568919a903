import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type pg from 'pg';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { addHold } from '../../src/executor/place-hold.js';
import { releaseHold } from '../../src/executor/release-hold.js';
import { startSweep } from '../../src/executor/start-sweep.js';
import type { Config } from '../../src/policy/config.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/stores/store.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';

/**
 * Legal holds as sweeps meet them, on PostgreSQL: a held subject's expired rows stay while
 * everyone else's go, until the hold is released; a held rule starts no sweep and stops a
 * running one between batches; and `hold add` waits for the batch under way, so when it
 * returns nothing that ignores it is running.
 */

const SUBJECTS = ['alice', 'bob', 'carol'] as const;
const ROWS = 300;
const rule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id', batchSize: 100 };

let env: TestEnv;
let config: Config;
let runtime: Runtime;
beforeEach(async () => {
  env = await createTestEnv();
  // Rows 1..300, expired, owned in turn by alice, bob and carol: each batch of 100 holds a third of each.
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
  await env.sql(
    `INSERT INTO ${env.schema}.logs (at, user_id) SELECT now() - interval '2 years', ($1::text[])[g % 3 + 1] FROM generate_series(1, ${ROWS}) g ORDER BY g`,
    [SUBJECTS],
  );
  config = env.config([rule]);
  runtime = await env.runtime(config);
});
afterEach(async () => {
  await env.cleanup();
});

async function rowsBySubject(): Promise<Record<string, number>> {
  const rows = await env.sql<{ user_id: string; n: string }>(`SELECT user_id, count(*) AS n FROM ${env.schema}.logs GROUP BY user_id`);
  return Object.fromEntries(rows.map((r) => [r.user_id, Number(r.n)]));
}

async function auditEvents(): Promise<{ event: string; holdId?: string; held?: number; ruleId: string; actor: string; reason?: string }[]> {
  const rows = await env.sql<{ entry: { event: string; ruleId: string; actor: string } }>(`SELECT entry FROM ${env.stateSchema}.audit_log ORDER BY seq`);
  return rows.map((r) => r.entry);
}

const run = (options: { actor?: string } = {}) =>
  runSweeps(runtime, config.rules, { connection: env.redis(), dryRun: false, actor: options.actor ?? 'test', concurrency: 2 });

describe('a hold on a subject', () => {
  it("keeps that subject's expired rows while the others go, and the sweep after the release removes them", async () => {
    await addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' });
    const first = await run();
    expect(first.onHold).toEqual([]);
    expect(first.swept[0]).toMatchObject({ sweep: { status: 'done', rowsAffected: 200 }, held: 100 });
    expect(await rowsBySubject()).toEqual({ alice: 100 });
    // Each batch recorded what it kept, in its own audit entry.
    const batches = (await auditEvents()).filter((e) => e.event === 'batch');
    expect(batches.reduce((sum, e) => sum + (e.held ?? 0), 0)).toBe(100);

    const [released] = await releaseHold(runtime, { subject: 'alice' }, 'case settled', 'legal:kim');
    expect(released).toMatchObject({ releasedBy: 'legal:kim', releaseReason: 'case settled' });
    const second = await run();
    expect(second.swept[0]).toMatchObject({ sweep: { status: 'done', rowsAffected: 100 }, held: 0 });
    expect(await rowsBySubject()).toEqual({});
  });
});

describe('a hold on a rule', () => {
  it('starts no sweep: the run reports the hold, touches nothing, and audits `held`', async () => {
    const hold = await addHold(runtime, { ruleId: 'logs', reason: 'regulator inquiry', actor: 'legal:kim' });
    // Nor is it planned: partitioning can scan a big table at every scheduled run of a rule held for years.
    const store = runtime.storeFor(config.rules[0]!) as Store;
    let partitioned = 0;
    const partition = store.partition.bind(store);
    store.partition = (...args) => (partitioned++, partition(...args));
    const { swept, onHold } = await run({ actor: 'ops:lee' });
    expect(partitioned).toBe(0);
    expect(swept).toEqual([]);
    expect(onHold).toEqual([{ rule: config.rules[0], held: { holdId: hold.id, reason: 'regulator inquiry', until: null, hold: `hold ${hold.id} (regulator inquiry)` } }]);
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.sweeps`)).toEqual([]);
    expect(await rowsBySubject()).toEqual({ alice: 100, bob: 100, carol: 100 });
    expect((await auditEvents()).filter((e) => e.event === 'held')).toEqual([
      expect.objectContaining({ event: 'held', holdId: hold.id, ruleId: 'logs', actor: 'ops:lee', reason: 'regulator inquiry', rows: 0 }),
    ]);
  });

  it('placed while the sweep is being planned, stops it where it would be recorded', async () => {
    const store = runtime.storeFor(config.rules[0]!) as Store;
    const partition = store.partition.bind(store);
    // The hold lands after the check made before planning, before the sweep is recorded.
    store.partition = async (...args) => {
      await addHold(runtime, { ruleId: 'logs', reason: 'late order', actor: 'legal:kim' });
      return partition(...args);
    };
    const { jobId, data } = await recordManualTrigger(runtime.state, config.rules[0]!, { actor: 'test', dryRun: false });
    const { result, enqueue } = await startSweep(runtime, jobId, data);
    expect(result.held).toMatchObject({ reason: 'late order' });
    expect(enqueue).toBeNull();
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.sweeps`)).toEqual([]);
    expect((await auditEvents()).map((e) => e.event)).toEqual(['hold-added', 'held']);
  });

  it('stops a running sweep between batches', async () => {
    const sweep = await plannedSweep(env, config, runtime);
    expect(sweep.batchesTotal).toBeGreaterThan(2);
    expect((await executeBatch(runtime, sweep.id, 0)).rows).toBe(100);
    const hold = await addHold(runtime, { ruleId: 'logs', reason: 'regulator inquiry', actor: 'legal:kim' });
    expect(await executeBatch(runtime, sweep.id, 1)).toMatchObject({ rows: 0, skipped: true, ended: { status: 'cancelled', reason: expect.stringContaining(`legal hold ${hold.id}`) } });
    expect(await executeBatch(runtime, sweep.id, 2)).toMatchObject({ rows: 0, skipped: true });
    expect(Object.values(await rowsBySubject()).reduce((a, b) => a + b, 0)).toBe(ROWS - 100);
  });
});

describe('hold add and the batches under way', () => {
  /** A test connection holding row 1 locked: a batch over it stops mid-transaction, after reading the holds. */
  async function blockRowOne(): Promise<{ client: pg.PoolClient; pid: number }> {
    const client = await env.pool.connect();
    await client.query('BEGIN');
    await client.query(`SELECT id FROM ${env.schema}.logs WHERE id = 1 FOR UPDATE`);
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    return { client, pid };
  }

  /** Polls until some session waits on `pid` (the batch on the row lock, `hold add` on the batch). */
  async function waitUntilBlockedBy(pid: number | string): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await env.pool.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [pid]);
      if (rows[0]) return rows[0].pid;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`nothing waited on session ${pid}`);
  }

  it('returns only after the batch in flight commits; the next batch keeps the held rows', async () => {
    const sweep = await plannedSweep(env, config, runtime);
    const blocker = await blockRowOne();
    const order: string[] = [];
    try {
      const batch = executeBatch(runtime, sweep.id, 0).then((outcome) => (order.push('batch'), outcome));
      // The batch holds the holds lock (shared) and waits on row 1 (for at most the pool's 2 s lock timeout).
      const batchPid = await waitUntilBlockedBy(blocker.pid);
      const hold = addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' }).then((h) => (order.push('hold'), h));
      await waitUntilBlockedBy(batchPid);
      expect(order).toEqual([]);
      await blocker.client.query('COMMIT');
      expect((await batch).rows).toBe(100);
      await hold;
      expect(order).toEqual(['batch', 'hold']);
    } finally {
      await blocker.client.query('ROLLBACK').catch(() => undefined);
      blocker.client.release();
    }
    // Batch 0 ran before the hold: alice's rows in it went. Batch 1 reads the hold.
    expect(await executeBatch(runtime, sweep.id, 1)).toMatchObject({ rows: 67 });
    expect(await rowsBySubject()).toEqual({ alice: 67, bob: 33, carol: 33 });
  });

  it("waits for a slow batch longer than the pool's lock timeout", async () => {
    // Deleting row 1 takes 3 s: longer than the 2 s any other lock wait of ours is given.
    await env.sql(`CREATE FUNCTION ${env.schema}.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF OLD.id = 1 THEN PERFORM pg_sleep(3); END IF; RETURN OLD; END $$`);
    await env.sql(`CREATE TRIGGER slow BEFORE DELETE ON ${env.schema}.logs FOR EACH ROW EXECUTE FUNCTION ${env.schema}.slow()`);
    const sweep = await plannedSweep(env, config, runtime);
    const order: string[] = [];
    const batch = executeBatch(runtime, sweep.id, 0).then((outcome) => (order.push('batch'), outcome));
    for (let i = 0; ; i++) {
      const { rows } = await env.pool.query(`SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE $1`, [`%${env.schema}%`]);
      if (rows.length > 0) break;
      if (i > 200) throw new Error('the batch never reached the slow row');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' }).then(() => order.push('hold'));
    expect((await batch).rows).toBe(100);
    expect(order).toEqual(['batch', 'hold']);
  });

  it('gives up after its lock timeout, placing nothing, and says so', async () => {
    const sweep = await plannedSweep(env, config, runtime);
    const blocker = await blockRowOne();
    try {
      const batch = executeBatch(runtime, sweep.id, 0);
      await waitUntilBlockedBy(blocker.pid);
      await expect(addHold(runtime, { ruleId: 'logs', reason: 'regulator inquiry', actor: 'legal:kim', lockTimeoutMs: 200 })).rejects.toThrow(
        /^batches are still running after 0.2 s \(a hold waits until the changes under way commit\): the hold was NOT placed/,
      );
      await blocker.client.query('COMMIT');
      expect((await batch).rows).toBe(100);
    } finally {
      await blocker.client.query('ROLLBACK').catch(() => undefined);
      blocker.client.release();
    }
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.holds`)).toEqual([]);
    expect((await auditEvents()).map((e) => e.event)).toEqual(['batch']);
  });
});
