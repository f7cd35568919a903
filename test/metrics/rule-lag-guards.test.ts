import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { RuleLags } from '../../src/metrics/rule-lags.js';
import { insertHold } from '../../src/state/holds.js';

/**
 * The lag gauge's guards: no sample for an anchor without an index (the probe would read
 * the whole table on every scrape) nor for a rule a legal hold stops (kept by law, not late).
 */
let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const rule = (id: string, table: string) => ({ id, table, anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'manual' });

async function tables(...names: string[]) {
  for (const name of names) {
    await env.sql(`CREATE TABLE ${env.schema}.${name} (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.${name} (at) SELECT now() - interval '400 days' FROM generate_series(1, 3)`);
  }
}

describe('retention lag guards', () => {
  it('gives no lag sample for a rule whose anchor has no index, and one when it has', async () => {
    await tables('indexed', 'bare');
    await env.sql(`CREATE INDEX ON ${env.schema}.indexed (at)`);
    const config = env.config([rule('indexed', 'indexed'), rule('bare', 'bare')]);
    const runtime = await env.runtime(config);
    const lags = await new RuleLags(runtime, { ttlMs: 0 }).read();
    expect([...lags.keys()]).toEqual(['indexed']);
    expect(lags.get('indexed')).toBeGreaterThan(30 * 86_400);
    // No query read the unindexed table to find its oldest row.
    const scans = await env.sql<{ n: string }>(`SELECT seq_scan::text AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'bare'`, [env.schema]);
    expect(Number(scans[0]?.n ?? 0)).toBe(0);
  });

  it('gives no lag sample for a rule on a legal hold', async () => {
    await tables('kept', 'free');
    await env.sql(`CREATE INDEX ON ${env.schema}.kept (at)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.free (at)`);
    const config = env.config([rule('kept', 'kept'), rule('free', 'free')]);
    const runtime = await env.runtime(config);
    await insertHold(runtime.state.db.pool, runtime.state, { subjectDigest: null, subjectSealed: null, ruleId: 'kept', reason: 'litigation', until: null, createdBy: 'test' });
    const lags = await new RuleLags(runtime, { ttlMs: 0 }).read();
    expect([...lags.keys()]).toEqual(['free']);
  });
});
