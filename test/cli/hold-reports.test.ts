import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir } from './cli-harness.js';

/**
 * What `plan` and `run` say about legal holds: how many expired items a held subject keeps
 * in each rule, and which rules are not swept at all because they are on hold (`run` still
 * succeeds: it did what the hold asks).
 */

const ROWS = 300;
const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id', batchSize: 100 };
const eventsRule = { id: 'events', table: 'events', anchor: 'at', retain: 'P1D', action: 'delete' };

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let file: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  // 300 expired rows, a third each of alice, bob and carol; 50 expired events.
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at, user_id) SELECT now() - interval '2 years', (ARRAY['alice', 'bob', 'carol'])[g % 3 + 1] FROM generate_series(1, ${ROWS}) g`);
  await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.events (at) SELECT now() - interval '2 years' FROM generate_series(1, 50)`);
  file = files.write('retention.yaml', env.configYaml([logsRule, eventsRule]));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  files.remove();
  await env.cleanup();
});

async function placeHolds(): Promise<void> {
  expect(await runMain(['hold', 'add', '--subject', 'alice', '--reason', 'case 2026-17', '--config', file])).toMatchObject({ code: 0 });
  expect(await runMain(['hold', 'add', '--rule', 'events', '--reason', 'regulator inquiry', '--config', file])).toMatchObject({ code: 0 });
}

describe('plan', () => {
  it('counts the expired items held subjects keep, and names a held rule', async () => {
    await placeHolds();
    const json = await runMain(['plan', '--json', '--config', file]);
    expect(json.code).toBe(0);
    const rules = JSON.parse(json.stdout).rules;
    expect(rules[0]).toMatchObject({ id: 'logs', affected: ROWS, held: 100 });
    expect(rules[0]).not.toHaveProperty('onHold');
    expect(rules[1]).toMatchObject({ id: 'events', affected: 50, onHold: { id: '2', reason: 'regulator inquiry', until: null } });
    expect(rules[1]).not.toHaveProperty('held');

    const text = await runMain(['plan', '--config', file]);
    // (The lag lines, `events: lag ...`, are plan-lag.test.ts's.)
    expect(lines(text.stdout).filter((l) => !/^\w+: lag /.test(l)).slice(-2)).toEqual([
      'logs: 100 of the affected items are kept while their subjects are on legal hold',
      'rule events is on legal hold 2 (regulator inquiry): a sweep would not start',
    ]);
  });

  it('without the audit key, says held subjects may keep items it cannot count', async () => {
    await placeHolds();
    vi.stubEnv('RETENTION_AUDIT_KEY', '');
    const json = await runMain(['plan', '--json', '--config', file]);
    expect(JSON.parse(json.stdout).rules[0]).toMatchObject({ id: 'logs', affected: ROWS, held: null });
    const text = await runMain(['plan', '--config', file]);
    expect(text.stdout).toContain('logs: subjects on legal hold may keep some of the affected items; set RETENTION_AUDIT_KEY to count them');
    expect(text.stdout).toContain('rule events is on legal hold 2 (regulator inquiry): a sweep would not start');
  });

  it('says nothing of holds when there are none, before the state schema exists', async () => {
    const json = await runMain(['plan', '--json', '--config', file]);
    expect(JSON.parse(json.stdout).rules.map((r: Record<string, unknown>) => ['held' in r, 'onHold' in r])).toEqual([
      [false, false],
      [false, false],
    ]);
  });
});

describe('run', () => {
  it('reports the items held subjects kept and the rules on hold, and succeeds', async () => {
    await placeHolds();
    const json = await runMain(['run', '--all', '--json', '--config', file]);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout).rules).toEqual([
      expect.objectContaining({ id: 'logs', affected: 200, status: 'done', held: 100 }),
      { id: 'events', action: 'delete', affected: 0, status: 'held', hold: { id: '2', reason: 'regulator inquiry', until: null } },
    ]);
    expect(await env.sql(`SELECT id FROM ${env.schema}.events`)).toHaveLength(50);

    // The next run finds alice's rows again, and keeps them again.
    const text = await runMain(['run', '--all', '--config', file]);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    const out = lines(text.stdout);
    expect(out[0]).toMatch(/^rule\s+action\s+affected\s+not judged\s+status\s+batches\s+sweep\s+now$/);
    expect(out.slice(2, -2)).toEqual([expect.stringMatching(/^logs\s+delete\s+0\s+0\s+done /)]);
    expect(out.slice(-2)).toEqual(['logs: 100 item(s) kept because their subject is on legal hold', 'rule events is on legal hold 2 (regulator inquiry): not swept']);
  });

  it('a sweep its rule hold stopped is reported as held, not as failed', async () => {
    const config = env.config([logsRule, eventsRule]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    // Its batches are lost (as in a Redis restart): the run below joins it and queues them again.
    await openQueue(env.redis(), env.prefix).obliterate({ force: true });
    expect(await runMain(['hold', 'add', '--rule', 'logs', '--reason', 'regulator inquiry', '--config', file])).toMatchObject({ code: 0 });
    // The run joins the running sweep; its batches read the hold and cancel it.
    const outcome = await runMain(['run', '--rule', 'logs', '--config', file]);
    expect(outcome).toMatchObject({ code: 0, stderr: '' });
    expect(lines(outcome.stdout).at(-1)).toBe(`rule logs is on legal hold 1 (regulator inquiry): sweep ${sweep.id} stopped after 0/${sweep.batchesTotal} batches (0 rows)`);
    expect(await env.sql(`SELECT id FROM ${env.schema}.logs`)).toHaveLength(ROWS);
  });
});
