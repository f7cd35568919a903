import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreContext } from '../../src/stores/store.js';
import { TEST_HMAC_KEY } from '../helpers/test-env.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

/**
 * `check` on MySQL/MariaDB for a never-store rule: an anchor that allows NULL is warned of
 * (a row with a NULL anchor is never found by a sweep), as on PostgreSQL.
 */

const CONTEXT: StoreContext = { hmacKey: Buffer.from(TEST_HMAC_KEY), timezone: 'UTC' };

let env: MysqlEnv;
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

const inspect = (overrides: Parameters<MysqlEnv['rule']>[0]) => env.store().inspect(env.rule(overrides), 'rules[0]', CONTEXT);

describe('mysql store: check of a never-store rule', () => {
  it('warns when its anchor allows NULL, and not when it is NOT NULL or the rule is ordinary', async () => {
    await env.sql(`CREATE TABLE events (id bigint unsigned NOT NULL PRIMARY KEY, at datetime NULL)`);
    const never = { never: true, retain: 'PT0S' };
    expect(await inspect(never)).toEqual([
      {
        path: 'rules[0].anchor',
        severity: 'warning',
        message: expect.stringMatching(
          new RegExp(`^rule ${env.rule().id} is a never-store rule, and column at of ${env.database}\\.events allows NULL: rows with a NULL anchor would never be found by a sweep .*created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP$`),
        ),
      },
    ]);
    expect(await inspect({})).toEqual([]);

    await env.sql(`ALTER TABLE events MODIFY at datetime NOT NULL`);
    expect(await inspect(never)).toEqual([]);
  });
});
