import { describeStoreKind } from './store-conformance.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * `kind: redis`, `shape: zset`: members of a sorted set scored by time (ms), e.g. logins.
 * Items are members; a score in 1970 (another unit) is the malformed anchor, counted as
 * implausible and never removed. The key must stay while it has members.
 */
describeStoreKind({
  title: 'redis (sorted set)',
  kind: 'redis',
  unjudged: { malformed: 'implausible anchor' },
  anonymize: false,
  async create({ env }) {
    const redis = env.redis();
    const base = `conf-${env.id}`;
    const key = `${base}:logins:u1`;
    return {
      store: { kind: 'redis', url: REDIS_URL },
      rule: { keys: `${base}:logins:*`, shape: 'zset', anchor: 'score', anchorUnit: 'ms' },
      async insert(items) {
        for (const item of items) {
          if (item.anchor === 'missing') throw new Error('a sorted set member always has a score');
          await redis.zadd(key, item.anchor === 'malformed' ? 5 : item.anchor, item.id);
        }
      },
      async remaining() {
        return redis.zrange(key, 0, -1);
      },
      broken: { rule: { keys: '*' }, names: /rules\[0\]\.keys: "\*" matches every key/ },
      async cleanup() {
        await deleteKeysMatching(redis, `${base}:*`);
      },
    };
  },
});
