import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { allowIdleWhileOtherStoreChanges } from '../../src/state/holds.js';
import { createDatabase, withTransaction } from '../../src/stores/postgres/connect.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * A state transaction held open while another store changes must survive the pool's
 * idle-in-transaction timeout, or the change would commit and its checkpoint and audit
 * entry be lost. Shown with a short timeout set on the session, as the pool's would be.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(() => env.cleanup());

describe('allowIdleWhileOtherStoreChanges', () => {
  it('keeps a transaction open past the session idle timeout, which ends one without it', async () => {
    const db = createDatabase(DATABASE_URL, { origin: 'test' });
    try {
      await env.sql(`CREATE TABLE ${env.schema}.marks (n int)`);
      const idle = (allow: boolean) =>
        withTransaction(db, async (tx) => {
          await tx.query("SELECT set_config('idle_in_transaction_session_timeout', '300', false)");
          if (allow) await allowIdleWhileOtherStoreChanges(tx);
          // The other store's change: the state connection sends nothing meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 800));
          await tx.query(`INSERT INTO ${env.schema}.marks VALUES (${allow ? 1 : 0})`);
        });
      await expect(idle(false)).rejects.toThrow();
      await idle(true);
      expect((await env.sql(`SELECT n FROM ${env.schema}.marks`)).map((r) => r.n)).toEqual([1]);
    } finally {
      await db.pool.end();
    }
  });
});
