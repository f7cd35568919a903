import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { clearKeyBounds } from '../../src/state/sweeps.js';
import { withTransaction } from '../../src/stores/postgres/connect.js';

/**
 * A key column can hold personal data. The audit log can never be cleaned, so no row key
 * may reach it; the batches table needs the key bounds only while its sweep runs.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  // Keyed by e-mail address: every batch bound is somebody's address.
  await env.sql(`CREATE TABLE ${env.schema}.subscribers (email text PRIMARY KEY, signed_up timestamptz NOT NULL)`);
  await env.sql(
    `INSERT INTO ${env.schema}.subscribers (email, signed_up)
     SELECT 'person' || g || '@example.org', now() - make_interval(days => CASE WHEN g % 2 = 0 THEN 400 ELSE 10 END)
       FROM generate_series(1, 450) g`,
  );
});
afterEach(async () => {
  await env.cleanup();
});

const rule = { id: 'subscribers', table: 'subscribers', key: 'email', anchor: 'signed_up', retain: 'P1Y', action: 'delete', batchSize: 100 };

/** Every text value the state schema's tables hold that looks like one of the addresses. */
async function addressesInState(): Promise<string[]> {
  const rows = await env.sql<{ found: string }>(
    `SELECT 'audit_log ' || seq || ': ' || entry::text AS found FROM ${env.stateSchema}.audit_log WHERE entry::text LIKE '%@example.org%'
     UNION ALL
     SELECT 'batches ' || sweep_id || '/' || idx || ': ' || coalesce(after_key, '') || ' ' || coalesce(up_to_key, '')
       FROM ${env.stateSchema}.batches WHERE concat(after_key, up_to_key) LIKE '%@example.org%'`,
  );
  return rows.map((r) => r.found);
}

describe('a sweep keyed by e-mail address', () => {
  it('leaves no address in the audit log or the batches table once it finished', async () => {
    const config = env.config([rule]);
    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(225);
    expect(result!.sweep.batchesTotal).toBeGreaterThan(2);
    expect(await addressesInState()).toEqual([]);
    // Batches are still known by their position, in the log and the checkpoints.
    const audited = await env.sql<{ batch: number }>(
      `SELECT (entry->>'batch')::int AS batch FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' ORDER BY 1`,
    );
    expect(audited.map((a) => a.batch)).toEqual([...Array(result!.sweep.batchesTotal).keys()]);
  });

  it('leaves no address after a dry run either', async () => {
    const config = env.config([rule]);
    await env.run(config, { dryRun: true });
    expect(await env.sql(`SELECT 1 FROM ${env.stateSchema}.batches LIMIT 1`)).toHaveLength(1);
    expect(await addressesInState()).toEqual([]);
  });

  it('clears the bounds of a sweep that ended early, never of a running one', async () => {
    const config = env.config([rule]);
    const runtime = await env.runtime(config);
    const { state } = runtime;
    // A sweep as planned, with e-mail bounds, before any batch ran.
    await env.sql(
      `INSERT INTO ${env.stateSchema}.sweeps (id, rule_id, config_hash, rule, dry_run, actor, trigger, now, ranges, status, batches_total)
       VALUES ('s1', 'subscribers', 'c', '{}', false, 'test', 'manual', now(), '[]', 'running', 2)`,
    );
    await env.sql(
      `INSERT INTO ${env.stateSchema}.batches (sweep_id, idx, after_key, up_to_key)
       VALUES ('s1', 0, NULL, 'person5@example.org'), ('s1', 1, 'person5@example.org', NULL)`,
    );
    // NULL bounds mean "open": never while the sweep could still run a batch.
    expect(await withTransaction(state.db, (client) => clearKeyBounds(client, state, 's1'))).toBe(0);
    expect(await addressesInState()).toHaveLength(2);
    await withTransaction(state.db, async (client) => {
      await client.query(`UPDATE ${state.table('sweeps')} SET status = 'cancelled', finished_at = now() WHERE id = 's1'`);
      expect(await clearKeyBounds(client, state, 's1')).toBe(2);
    });
    expect(await addressesInState()).toEqual([]);
  });
});
