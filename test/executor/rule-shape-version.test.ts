import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { readSweepTrigger } from '../../src/executor/sweep-trigger.js';
import { listSweeps } from '../../src/state/sweeps.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const logs = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 };

async function logsTable(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 120)`);
}

/** The rule of a sweep as the previous version persisted it: per-kind fields at the top level, no `v`. */
function versionOneRule(schema: string, hash: string): Record<string, unknown> {
  return {
    id: 'logs',
    hash,
    source: 'Privacy Policy, section 4',
    store: 'app',
    table: { schema, name: 'logs' },
    keys: null,
    key: 'id',
    anchor: 'at',
    anchorUnit: null,
    retain: 'P1Y',
    action: 'delete',
    where: [],
    subject: null,
    schedule: { kind: 'every', iso: 'PT1H', ms: 3_600_000 },
    anonymize: [],
    batchSize: 100,
    timezone: 'UTC',
    anchorZone: { name: 'UTC', from: 'timezone' },
    limits: { maxRowsPerRun: null, maxFraction: 1 },
  };
}

describe('the rule persisted with a sweep', () => {
  it('carries its shape version (v: 2), its kind and its target, and the store describes the target for the audit', async () => {
    await logsTable();
    const config = env.config([logs]);
    const sweep = await plannedSweep(env, config, await env.runtime(config));
    const [row] = await env.sql<{ rule: Record<string, unknown>; target: string }>(`SELECT rule, target FROM ${env.stateSchema}.sweeps WHERE id = $1`, [sweep.id]);
    expect(row!.rule).toMatchObject({ v: 2, id: 'logs', kind: 'postgres', target: { table: { schema: env.schema, name: 'logs' }, key: 'id', anchor: 'at' } });
    expect(row!.rule).not.toHaveProperty('table');
    expect(row!.target).toBe(`${env.schema}.logs`);
    expect(sweep.rule).toEqual(config.rules[0]);
  });

  it('from an older version is never cast: the sweep is superseded as not comparable, and its batches delete nothing', async () => {
    await logsTable();
    const config = env.config([logs]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    // The same sweep as the previous version wrote it, with the hash the config has now:
    // only the missing shape version tells it apart.
    await env.sql(`UPDATE ${env.stateSchema}.sweeps SET rule = $2, target = NULL WHERE id = $1`, [sweep.id, JSON.stringify(versionOneRule(env.schema, sweep.ruleHash!))]);

    const [old] = await listSweeps(runtime.state, { ruleId: 'logs' });
    expect(old!.rule).toBeNull();
    expect(old!.summary).toEqual({ source: 'Privacy Policy, section 4', store: 'app', target: `${env.schema}.logs`, action: 'delete' });

    for (let idx = 0; idx < sweep.batchesTotal; idx++) expect((await executeBatch(runtime, sweep.id, idx)).rows).toBe(0);
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(120);
    const [ended] = await env.sql<{ status: string; reason: string }>(`SELECT status, reason FROM ${env.stateSchema}.sweeps WHERE id = $1`, [sweep.id]);
    expect(ended).toEqual({ status: 'superseded', reason: expect.stringContaining('its definition cannot be compared') });
    const audit = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`, [sweep.id]);
    expect(audit.map((a) => a.entry)).toEqual([
      expect.objectContaining({ event: 'superseded', table: `${env.schema}.logs`, store: 'app', action: 'delete', reason: expect.stringContaining('older version') }),
    ]);
  });

  it('of a scheduled job from an older version is refused as not comparable, not run under a guessed shape', () => {
    expect(readSweepTrigger({ trigger: 'schedule', ruleId: 'logs', ruleHash: 'abc' })).toEqual({ problem: expect.stringContaining('cannot be compared') });
    expect(readSweepTrigger({ trigger: 'schedule', ruleId: 'logs', ruleHash: 'abc', v: 2 })).toEqual({ trigger: 'schedule', ruleId: 'logs', ruleHash: 'abc', v: 2 });
  });
});
