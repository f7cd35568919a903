import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PeopleAuditEntry } from '../../src/audit/audit-entry.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import type { Config } from '../../src/policy/config.js';
import { replaySweeps } from '../../src/queue/replay-sweeps.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { rulesSweptSince } from '../../src/state/swept-since.js';
import { insertSweep } from '../../src/state/sweeps.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';

/**
 * Which rules replay sweeps again, and a sweep still running when replay starts: its
 * batches done before the restore will not run again, so the rule is swept once more.
 */

const ROWS = 300;

let env: TestEnv;
let config: Config;
let runtime: Runtime;
beforeEach(async () => {
  env = await createTestEnv();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigint PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs SELECT g, now() - interval '2 years' FROM generate_series(1, ${ROWS}) g`);
  config = env.config(['logs', 'b', 'c', 'd', 'e', 'f', 'g'].map((id) => ({ id, table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', batchSize: 100 })));
  runtime = await env.runtime(config);
});
afterEach(() => env.cleanup());

const count = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n);

describe('rulesSweptSince', () => {
  it('finds rules whose real sweeps changed items since the instant, or run now; not blocked, dry or older ones', async () => {
    const since = new Date('2026-03-01T00:00:00Z');
    const after = new Date('2026-03-02T00:00:00Z');
    const before = new Date('2026-02-01T00:00:00Z');
    const sweeps: { rule: string; status: string; finished: Date | null; batchesDone: number; dryRun?: boolean }[] = [
      { rule: 'logs', status: 'done', finished: after, batchesDone: 3 },
      { rule: 'b', status: 'done', finished: before, batchesDone: 3 },
      { rule: 'c', status: 'blocked', finished: after, batchesDone: 0 },
      { rule: 'd', status: 'cancelled', finished: after, batchesDone: 1 },
      { rule: 'e', status: 'failed', finished: after, batchesDone: 0 },
      { rule: 'f', status: 'done', finished: after, batchesDone: 3, dryRun: true },
      { rule: 'g', status: 'running', finished: null, batchesDone: 1 },
    ];
    for (const [i, s] of sweeps.entries()) {
      const rule = config.rules.find((r) => r.id === s.rule)!;
      await insertSweep(env.pool, runtime.state, {
        id: `s${i}`,
        rule,
        target: 'logs',
        configHash: config.hash,
        dryRun: s.dryRun ?? false,
        actor: 'test',
        trigger: 'manual',
        now: before,
        ranges: [],
        batches: [],
        status: 'running',
        confirmToken: null,
        blocked: null,
        triggerId: null,
      });
      await env.sql(`UPDATE ${env.stateSchema}.sweeps SET status = $2, finished_at = $3, batches_done = $4 WHERE id = $1`, [`s${i}`, s.status, s.finished, s.batchesDone]);
    }
    expect(await rulesSweptSince(env.pool, runtime.state, since)).toEqual([
      { ruleId: 'd', sweeps: 1, running: false },
      { ruleId: 'g', sweeps: 0, running: true },
      { ruleId: 'logs', sweeps: 1, running: false },
    ]);
  });
});

describe('replaySweeps', () => {
  it('joins a sweep still running, then sweeps the rule again: rows its early batches deleted came back', async () => {
    const logs = config.rules.filter((r) => r.id === 'logs');
    const since = new Date(Date.now() - 60_000);
    const sweep = await plannedSweep(env, { ...config, rules: logs }, runtime);
    expect(sweep.batchesTotal).toBeGreaterThan(2);
    expect((await executeBatch(runtime, sweep.id, 0)).rows).toBe(100);
    // The restore: the rows batch 0 deleted are back, in its key range, which it will not visit again.
    await env.sql(`INSERT INTO ${env.schema}.logs SELECT g, now() - interval '2 years' FROM generate_series(1, ${ROWS}) g ON CONFLICT DO NOTHING`);
    expect(await count()).toBe(ROWS);

    const replay = await replaySweeps(runtime, since, { connection: env.redis(), dryRun: false, actor: 'ops', concurrency: 2 });
    expect(await count()).toBe(0);
    expect(replay.missing).toEqual([]);
    expect(replay.swept.map((s) => [s.rule.id, s.joined, s.sweep.status, s.sweep.rowsAffected])).toEqual([['logs', false, 'done', 100]]);
    const entries = await env.sql<{ entry: PeopleAuditEntry }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'replayed'`);
    expect(entries.map((e) => e.entry)).toEqual([
      expect.objectContaining({ ruleId: 'logs', rows: 100, sweepId: replay.swept[0]!.sweep.id, replay: { of: 'sweep', since: since.toISOString() }, actor: 'ops' }),
    ]);
  });
});
