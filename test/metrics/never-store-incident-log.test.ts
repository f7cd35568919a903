import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { addHold } from '../../src/executor/place-hold.js';
import { logSweepEnds } from '../../src/metrics/sweep-alerts.js';
import { createWorkerLog } from '../../src/metrics/worker-log.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * The worker logs a never-store incident once, at error, however the sweep that found the
 * data ended: not only a sweep that finished, but one cancelled by a legal hold on its rule
 * or superseded by a changed definition after its first batches had deleted rows (their
 * closing audit entries record the incident; so must the log). The log line comes from the
 * sweep's end as the executor reports it (runtime.events), which every way of ending emits.
 */

const FACE = { id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', batchSize: 100 };

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  await env.sql(`CREATE TABLE ${env.schema}.face_templates (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), template bytea)`);
  await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at, template) SELECT now() - interval '1 minute', '\\xdead' FROM generate_series(1, 250)`);
  await env.sql(`ANALYZE ${env.schema}.face_templates`);
});
afterEach(async () => {
  await env.cleanup();
});

interface Line {
  level: number;
  msg: string;
  incident?: string;
  status?: string;
  found?: number;
  changed?: number;
  sweep?: string;
}

/** The worker's sweep-end log on `runtime`, as JSON lines. */
async function watch(runtime: Runtime, lines: Line[]): Promise<void> {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  logSweepEnds(await createWorkerLog({ level: 'info', format: 'json' }, destination), runtime.events);
}

const incidents = (lines: Line[]) => lines.filter((l) => l.incident === 'never-store');
const remaining = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.face_templates`))[0]!.n);
const ERROR = 50;

describe('a never-store sweep that ended early after deleting rows', () => {
  it('is logged as an incident once when a hold on its rule cancels it', async () => {
    const config = env.config([FACE]);
    const runtime = await env.runtime(config);
    const lines: Line[] = [];
    await watch(runtime, lines);
    const sweep = await plannedSweep(env, config, runtime);
    expect(sweep.batchesTotal).toBeGreaterThanOrEqual(2);
    const first = await executeBatch(runtime, sweep.id, 0);
    expect(first.rows).toBeGreaterThan(0);
    await addHold(runtime, { ruleId: 'face-data', reason: 'case 2026-17', actor: 'legal:kim' });
    for (let idx = 1; idx < sweep.batchesTotal; idx++) expect(await executeBatch(runtime, sweep.id, idx)).toMatchObject({ skipped: true, ended: { status: 'cancelled' } });

    expect(await remaining()).toBe(250 - first.rows);
    expect(incidents(lines)).toEqual([
      expect.objectContaining({
        level: ERROR,
        sweep: sweep.id,
        status: 'cancelled',
        found: first.rows,
        changed: first.rows,
        msg: `INCIDENT: never-store rule face-data found ${first.rows} items in ${env.schema}.face_templates; ${first.rows} deleted before the sweep was cancelled`,
      }),
    ]);
  });

  it('is logged as an incident once when a batch finds its definition changed and supersedes it', async () => {
    const before = env.config([FACE]);
    const sweep = await plannedSweep(env, before, await env.runtime(before));
    const first = await executeBatch(await env.runtime(before), sweep.id, 0);
    expect(first.rows).toBeGreaterThan(0);
    // A worker on the changed config runs the next batch: the sweep is superseded there.
    const after = env.config([{ ...FACE, where: { template: { not: null } } }]);
    const worker = await env.runtime(after);
    const lines: Line[] = [];
    await watch(worker, lines);
    for (let idx = 1; idx < sweep.batchesTotal; idx++) expect((await executeBatch(worker, sweep.id, idx)).ended?.status).toBe('superseded');

    expect(incidents(lines)).toEqual([expect.objectContaining({ level: ERROR, sweep: sweep.id, status: 'superseded', found: first.rows, changed: first.rows })]);
    expect(incidents(lines)[0]!.msg).toContain(`; ${first.rows} deleted before the sweep was superseded`);
  });

  it('is logged as an incident once when a new trigger supersedes it', async () => {
    const before = env.config([FACE]);
    const sweep = await plannedSweep(env, before, await env.runtime(before));
    const first = await executeBatch(await env.runtime(before), sweep.id, 0);
    const after = env.config([{ ...FACE, where: { template: { not: null } } }]);
    const worker = await env.runtime(after);
    const lines: Line[] = [];
    await watch(worker, lines);
    // The trigger ends the old sweep (superseded) and plans a fresh one.
    const fresh = await plannedSweep(env, after, worker);
    expect(fresh.id).not.toBe(sweep.id);

    expect(incidents(lines)).toEqual([expect.objectContaining({ level: ERROR, sweep: sweep.id, status: 'superseded', found: first.rows })]);
  });
});
