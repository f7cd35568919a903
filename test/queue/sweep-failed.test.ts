import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

describe('a sweep whose batch fails for good', () => {
  it('ends as failed with the reason, and the next run plans a fresh sweep that deletes the new expired rows', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 250)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 }]);
    // The schema changed under the rule: every batch fails the same way, retrying repeats it.
    await env.sql(`ALTER TABLE ${env.schema}.logs RENAME COLUMN at TO at_renamed`);
    const first = await env.run(config).then(
      (results) => results,
      (error: Error) => error,
    );

    const [failed] = await env.sql<{ id: string; status: string; reason: string }>(`SELECT * FROM ${env.stateSchema}.sweeps`);
    expect(failed).toMatchObject({ status: 'failed', reason: expect.stringContaining('"at" does not exist') });
    expect(Array.isArray(first) && first[0]!.sweep.status).toBe('failed');
    const audit = await env.sql<{ entry: { event: string; reason?: string } }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 ORDER BY seq`, [failed!.id]);
    expect(audit.map((a) => a.entry.event)).toEqual(['failed']);
    expect(audit[0]!.entry.reason).toContain('does not exist');

    // The cause is fixed and more rows expired meanwhile: the rule is not frozen.
    await env.sql(`ALTER TABLE ${env.schema}.logs RENAME COLUMN at_renamed TO at`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 50)`);
    const [second] = await env.run(config);
    expect(second!.joined).toBe(false);
    expect(second!.sweep).toMatchObject({ status: 'done', rowsAffected: 300 });
    expect(await env.sql(`SELECT id FROM ${env.schema}.logs`)).toEqual([]);
  });
});
