import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir } from '../cli/cli-harness.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { openQueue } from '../../src/queue/sweep-queue.js';

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

const rule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 };

describe('retention sweeps', () => {
  it('cancels a running sweep (audited); its batches then do nothing, and the next run plans afresh', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 300)`);
    const file = dir.write('retention.yaml', env.configYaml([rule]));
    const config = env.config([rule]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    expect((await executeBatch(runtime, sweep.id, 0)).rows).toBe(100);

    const listed = await runMain(['sweeps', '--rule', 'logs', '--status', 'running', '--config', file]);
    expect(listed.code).toBe(0);
    expect(lines(listed.stdout).some((l) => l.includes(sweep.id) && l.includes('running') && l.includes(`1/${sweep.batchesTotal}`))).toBe(true);

    expect(await runMain(['sweeps', 'cancel', sweep.id, '--config', file])).toMatchObject({ code: 2, stderr: expect.stringContaining('--reason') });
    const cancelled = await runMain(['sweeps', 'cancel', sweep.id, '--reason', 'wrong table', '--actor', 'ops:alice', '--config', file]);
    expect(cancelled).toMatchObject({ code: 0 });
    expect(cancelled.stdout).toContain(`cancelled sweep ${sweep.id}`);
    expect((await runMain(['sweeps', 'cancel', sweep.id, '--reason', 'again', '--config', file])).stderr).toContain('is cancelled, not running');

    // Its queued batches run and change nothing.
    for (let idx = 1; idx < sweep.batchesTotal; idx++) expect(await executeBatch(runtime, sweep.id, idx)).toMatchObject({ rows: 0, skipped: true, ended: { status: 'cancelled' } });
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(200);
    const audit = await env.sql<{ entry: { event: string; actor: string; reason?: string } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`,
      [sweep.id],
    );
    expect(audit.map((a) => a.entry.event)).toEqual(['batch', 'cancelled']);
    expect(audit[1]!.entry).toMatchObject({ actor: 'ops:alice', reason: 'wrong table' });

    const json = await runMain(['sweeps', '--json', '--config', file]);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ id: sweep.id, rule: 'logs', status: 'cancelled', batchesDone: 1, batchesTotal: sweep.batchesTotal, rows: 100, reason: 'wrong table' }),
    ]);

    await openQueue(env.redis(), env.prefix).obliterate({ force: true });
    const [next] = await env.run(config);
    expect(next!.joined).toBe(false);
    expect(next!.sweep).toMatchObject({ status: 'done', rowsAffected: 200 });
  });

  it('refuses an unknown status and an unknown sweep by name', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const file = dir.write('retention.yaml', env.configYaml([rule]));
    const status = await runMain(['sweeps', '--status', 'stuck', '--config', file]);
    expect(status).toMatchObject({ code: 2, stderr: expect.stringContaining('--status: "stuck" is not a sweep status') });
    const unknown = await runMain(['sweeps', 'cancel', 'nope', '--reason', 'x', '--config', file]);
    expect(unknown).toMatchObject({ code: 2, stderr: expect.stringContaining('no sweep "nope"') });
  });
});
