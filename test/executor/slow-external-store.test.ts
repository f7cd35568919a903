import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { connectRuntime, openRuntime } from '../../src/runtime/runtime.js';
import { tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from './planned-sweep.js';

/**
 * A batch on a store outside the state database changes that store while its state
 * transaction (batch lock, holds lock) stays open and idle. The pool's idle-in-transaction
 * timeout must not end that transaction mid-change: the change would stand with no
 * checkpoint and no audit entry. The state pool's timeout is set to 300 ms here and the
 * store (a module plugin) takes 800 ms to delete.
 */

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

const SLOW_STORE = `
export default {
  create() {
    return {
      count: async () => 1,
      total: async () => 1,
      apply: async (rule, selection, { dryRun }) => {
        await new Promise((resolve) => setTimeout(resolve, 800));
        return 1;
      },
    };
  },
};
`;

describe('a batch on a slow store outside the state database', () => {
  it('keeps its state transaction past the idle timeout and records the change', async () => {
    writeFileSync(join(dir.dir, 'package.json'), '{ "type": "module" }\n');
    mkdirSync(join(dir.dir, 'stores'));
    const plugin = join(dir.dir, 'stores', 'slow.js');
    writeFileSync(plugin, SLOW_STORE);
    const config = env.config([{ id: 'slow', store: 'slow', retain: 'P1D', action: 'delete' }], {
      stores: { app: { kind: 'postgres', url: DATABASE_URL }, slow: { kind: 'module', module: plugin } },
    });
    const runtime = await openRuntime(config, { RETENTION_AUDIT_KEY: TEST_AUDIT_KEY });
    try {
      // Every state connection opened from now on ends a transaction idle for 300 ms.
      (runtime.state.db.pool.options as { idle_in_transaction_session_timeout?: number }).idle_in_transaction_session_timeout = 300;
      await connectRuntime(runtime);
      const sweep = await plannedSweep(env, config, runtime);
      const outcome = await executeBatch(runtime, sweep.id, 0);
      expect(outcome).toMatchObject({ rows: 1, skipped: false });
      const [done] = await env.sql<{ status: string; rows_affected: string }>(`SELECT status, rows_affected FROM "${env.stateSchema}".sweeps WHERE id = $1`, [sweep.id]);
      expect(done).toEqual({ status: 'done', rows_affected: '1' });
      const entries = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM "${env.stateSchema}".audit_log WHERE entry->>'event' = 'batch' AND entry->>'sweepId' = $1`, [sweep.id]);
      expect(entries[0]!.n).toBe('1');
    } finally {
      await runtime.close();
    }
  });
});
