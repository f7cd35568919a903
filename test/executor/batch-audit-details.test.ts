import { createHmac } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { plannedSweep } from './planned-sweep.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const batchEntries = async (sweepId: string) =>
  (await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 AND entry->>'event' = 'batch' ORDER BY seq`, [sweepId])).map(
    (r) => r.entry,
  );

describe("a batch's audit entry", () => {
  it('names each row the batch had to leave by the digest of its key, never the key', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (email text PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.users SELECT 'user' || g || '@example.com', now() - interval '400 days' FROM generate_series(1, 20) g`);
    // An invoice still points at one user, with no ON DELETE: that row cannot go.
    await env.sql(`CREATE TABLE ${env.schema}.invoices (id serial PRIMARY KEY, email text REFERENCES ${env.schema}.users (email))`);
    await env.sql(`INSERT INTO ${env.schema}.invoices (email) VALUES ('user7@example.com')`);
    const config = env.config([{ id: 'users', table: 'users', key: 'email', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);

    expect(await env.sql(`SELECT email FROM ${env.schema}.users`)).toEqual([{ email: 'user7@example.com' }]);
    const entries = await batchEntries(sweep.id);
    const skipped = entries.flatMap((e) => (e.skippedRows as { key: string; reason: string }[] | undefined) ?? []);
    // keyDigest: HMAC-SHA256 under the audit key, 24 hex characters.
    const digest = createHmac('sha256', process.env.RETENTION_AUDIT_KEY!).update('user7@example.com').digest('hex').slice(0, 24);
    expect(skipped).toEqual([{ key: digest, reason: expect.stringContaining('foreign key') }]);
    const log = await env.sql<{ text: string }>(`SELECT string_agg(entry::text, ' ') AS text FROM ${env.stateSchema}.audit_log`);
    expect(log[0]!.text).not.toContain('user7@example.com');
  });

  it('records per table the rows lost through ON DELETE CASCADE', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.users (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.users (at) SELECT now() - interval '400 days' FROM generate_series(1, 10)`);
    await env.sql(`CREATE TABLE ${env.schema}.logins (id serial PRIMARY KEY, user_id int REFERENCES ${env.schema}.users (id) ON DELETE CASCADE)`);
    await env.sql(`INSERT INTO ${env.schema}.logins (user_id) SELECT 1 + g % 10 FROM generate_series(1, 35) g`);
    const config = env.config([{ id: 'users', table: 'users', anchor: 'at', retain: 'P1Y', action: 'delete', cascades: 'allow', batchSize: 100 }]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);

    const cascaded = (await batchEntries(sweep.id)).map((e) => e.cascaded as Record<string, number> | undefined);
    const total = cascaded.reduce((sum, c) => sum + Object.values(c ?? {}).reduce((a, b) => a + b, 0), 0);
    expect(total).toBe(35);
    expect(cascaded.flatMap((c) => Object.keys(c ?? {}))).toEqual(expect.arrayContaining([expect.stringContaining('logins')]));
  });
});
