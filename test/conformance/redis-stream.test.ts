import { describeStoreKind } from './store-conformance.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * `kind: redis`, `shape: stream`: entries of a stream dated by their id (`<ms>-<seq>`), e.g.
 * an audit trail an application keeps. Items are entries (the item's id in field `item`);
 * an entry with a custom id from 1970 (`1-1`) is the malformed anchor, counted as
 * implausible and never removed.
 */
describeStoreKind({
  title: 'redis (stream)',
  kind: 'redis',
  unjudged: { malformed: 'implausible anchor' },
  anonymize: false,
  async create({ env }) {
    const redis = env.redis();
    const base = `conf-${env.id}`;
    const key = `${base}:events:u1`;
    return {
      store: { kind: 'redis', url: REDIS_URL },
      rule: { keys: `${base}:events:*`, shape: 'stream', anchor: 'stream-id', anchorUnit: 'ms' },
      async insert(items) {
        // Stream ids only grow: add in the order of their time.
        const order = (a: number | string) => (a === 'malformed' ? -1 : (a as number));
        for (const item of [...items].sort((a, b) => order(a.anchor) - order(b.anchor))) {
          if (item.anchor === 'missing') throw new Error('a stream entry always has an id');
          await redis.xadd(key, item.anchor === 'malformed' ? '1-1' : `${item.anchor}-0`, 'item', item.id);
        }
      },
      async remaining() {
        return (await redis.xrange(key, '-', '+')).map(([, fields]) => fields[1]!);
      },
      broken: { rule: { keys: '*' }, names: /rules\[0\]\.keys: "\*" matches every key/ },
      async cleanup() {
        await deleteKeysMatching(redis, `${base}:*`);
      },
    };
  },
});
