import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/policy/load-config.js';
import { clearDemoQueueKeys } from '../../scripts/demo-queue-keys.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

/**
 * Two people running `npm run demo` against one Redis must not clear each other's queue:
 * each picks a prefix of their own, and the demo's reset deletes only keys under its own.
 */

const DEMO_CONFIG = join(fileURLToPath(new URL('../..', import.meta.url)), 'config/retention.yaml');

describe("the demo's queue prefix", () => {
  it('is taken from RETENTION_QUEUE_PREFIX, with retention-demo when it is not set', () => {
    expect(loadConfig(DEMO_CONFIG, { RETENTION_QUEUE_PREFIX: 'alice-demo' }, STORE_KINDS).queuePrefix).toBe('alice-demo');
    expect(loadConfig(DEMO_CONFIG, {}, STORE_KINDS).queuePrefix).toBe('retention-demo');
  });

  describe('reset', () => {
    let redis: Redis;
    // Unique per run: the shared Redis holds other tests' keys too.
    const mine = `h7-${randomBytes(4).toString('hex')}-demo`;
    const others = [`${mine}-bob`, `${mine}x`, `x${mine}`];

    beforeAll(async () => {
      redis = new Redis(REDIS_URL);
    });
    afterAll(async () => {
      for (const prefix of [mine, ...others]) await deleteKeysMatching(redis, `${prefix}*`);
      redis.disconnect();
    });

    it('deletes every key under its own prefix and none of a neighbour whose prefix starts or ends the same', async () => {
      const own = [`${mine}:sweeps:wait`, `${mine}:sweeps:b-1`, `${mine}:sweeps:meta`];
      const theirs = others.flatMap((p) => [`${p}:sweeps:wait`, `${p}:sweeps:meta`]);
      for (const key of [...own, ...theirs]) await redis.set(key, '1');

      expect(await clearDemoQueueKeys(redis, mine)).toBe(own.length);
      expect(await redis.exists(...own)).toBe(0);
      expect(await redis.exists(...theirs)).toBe(theirs.length);
    });
  });
});
