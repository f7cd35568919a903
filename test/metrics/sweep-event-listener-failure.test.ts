import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import { SweepEvents } from '../../src/runtime/sweep-events.js';

/** A failing sweep-event listener: the batch's result stands, and its first failure is reported once. */
let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  vi.restoreAllMocks();
  await env.cleanup();
});

describe('sweep event listeners that fail', () => {
  it('leave the sweep and its batches intact, and are reported on stderr once each', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 250)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100, schedule: 'manual' }]);
    const runtime = await env.runtime(config);
    const stderr: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    const seen: string[] = [];
    runtime.events.on(() => {
      throw new Error('counter broke (postgres://app:secret@db/x)');
    });
    runtime.events.on(async () => {
      throw new Error('async log broke');
    });
    runtime.events.on((event) => void seen.push(event.type));
    const [result] = (await runSweeps(runtime, config.rules, { connection: env.redis(), dryRun: false, actor: 'test', concurrency: 2 })).swept;
    await new Promise((resolve) => setImmediate(resolve));
    vi.restoreAllMocks();
    expect(result!.sweep.status).toBe('done');
    expect(result!.sweep.rowsAffected).toBe(250);
    expect((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.logs`))[0]!.n).toBe('0');
    // Listeners after the broken ones still ran, for every event.
    expect(seen.filter((t) => t === 'batch-applied')).toHaveLength(3);
    expect(seen).toContain('sweep-ended');
    const reports = stderr.filter((line) => line.includes('sweep event listener failed'));
    expect(reports).toHaveLength(2);
    expect(reports.join('')).toContain('counter broke (postgres://app:***@db/x)');
    expect(reports.join('')).toContain('async log broke');
  });

  it('does not let a listener that returns a rejected promise become an unhandled rejection', async () => {
    const reports: string[] = [];
    const events = new SweepEvents((message) => reports.push(message));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      events.on(() => Promise.reject(new Error('late failure')) as unknown as void);
      events.emit({ type: 'batch-applied', sweepId: '1', ruleId: 'r', store: 's', action: 'delete', idx: 0, rows: 1, dryRun: false, ms: 1 });
      events.emit({ type: 'batch-applied', sweepId: '1', ruleId: 'r', store: 's', action: 'delete', idx: 1, rows: 1, dryRun: false, ms: 1 });
      await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('late failure');
  });
});
