import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

describe('a delete sweep', () => {
  it('deletes exactly the expired rows, keeps NULL anchors, and audits the count', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - make_interval(days => g) FROM generate_series(1, 400) g`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (NULL), (NULL)`);
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P180D', action: 'delete', batchSize: 100 }]);
    const [result] = await env.run(config);
    // Days 180..400 ago have ended their 180 days (day 180 only just: now() moved on since insert).
    const left = await env.sql<{ n: string; nulls: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE at IS NULL) AS nulls FROM ${env.schema}.logs`);
    expect(Number(left[0]!.n)).toBe(402 - 221);
    expect(Number(left[0]!.nulls)).toBe(2);
    expect(result!.sweep.rowsAffected).toBe(221);
    const runtime = await env.runtime(config);
    const verified = await verifyAudit(runtime.state);
    expect(verified.ok).toBe(true);
    const audited = await env.sql<{ rows: string }>(`SELECT sum((entry->>'rows')::int) AS rows FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(Number(audited[0]!.rows)).toBe(221);
  });
});
