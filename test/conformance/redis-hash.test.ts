import { describeStoreKind } from './store-conformance.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * `kind: redis`, hashes (the default shape): one key per item under the test's own key
 * prefix, the anchor in epoch milliseconds in field `at`. A key whose pattern the rule
 * does not cover sits beside them and must never be touched.
 */
describeStoreKind({
  title: 'redis (hash)',
  kind: 'redis',
  unjudged: { missing: 'missing anchor', malformed: 'malformed anchor' },
  anonymize: false,
  async create({ env }) {
    const redis = env.redis();
    const base = `conf-${env.id}`;
    const key = (id: string) => `${base}:item:${id}`;
    // Outside the rule's pattern, and old: never swept.
    await redis.hset(`${base}:other:x`, { at: '946684800000' });
    return {
      store: { kind: 'redis', url: REDIS_URL },
      rule: { keys: `${base}:item:*`, anchor: 'at', anchorUnit: 'ms' },
      async insert(items) {
        for (const item of items) {
          const at = item.anchor === 'missing' ? null : item.anchor === 'malformed' ? 'yesterday' : String(item.anchor);
          await redis.hset(key(item.id), at === null ? { email: `${item.id}@example.com` } : { at, email: `${item.id}@example.com` });
        }
      },
      async remaining() {
        if ((await redis.exists(`${base}:other:x`)) !== 1) throw new Error('a key outside the rule pattern was touched');
        return (await redis.keys(`${base}:item:*`)).map((k) => k.slice(`${base}:item:`.length));
      },
      broken: { rule: { keys: '*' }, names: /rules\[0\]\.keys: "\*" matches every key/ },
      async cleanup() {
        await deleteKeysMatching(redis, `${base}:*`);
      },
    };
  },
});
