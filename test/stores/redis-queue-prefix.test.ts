import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/policy/load-config.js';
import { openRuntime } from '../../src/runtime/runtime.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { expired } from '../../src/stores/selection.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import type { RedisRule } from '../../src/stores/redis/target.js';

/**
 * Issue 7, class 6: however broad a rule's pattern, a Redis store never reads, counts or
 * deletes a key under the product's own queue prefix, and `check` names a pattern that
 * could reach it.
 *
 * Patterns like `*:*` scan the whole database, so these tests use a database of their own
 * (other tests' keys are not in it) and an anchor field name no one else writes.
 */

/** A database index no other test uses: the broad patterns below see only this file's keys. */
const OWN_DB = 11;
const DB_URL = `${REDIS_URL.replace(/\/\d*$/, '')}/${OWN_DB}`;
const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };

let redis: Redis;
let id: string;
let queuePrefix: string;
/** BullMQ's job hashes carry `timestamp` in epoch ms; a rule anchored on the same name would reach them. */
let field: string;

beforeEach(() => {
  redis = new Redis(DB_URL, { maxRetriesPerRequest: null });
  id = randomBytes(5).toString('hex');
  queuePrefix = `rq_${id}`;
  field = `timestamp_${id}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${queuePrefix}:*`);
  await deleteKeysMatching(redis, `*${id}*`);
  redis.disconnect();
});

const store = () => new RedisStore('cache', DB_URL, 'stores.cache.url in test.yaml', queuePrefix);

function rule(keys: string): RedisRule {
  return {
    id: 'broad',
    hash: 'test',
    source: null,
    store: 'cache',
    kind: 'redis',
    retain: 'P30D',
    never: false,
    action: 'delete',
    subject: null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    target: { keys, anchor: field, anchorUnit: 'ms' },
  };
}

/** Keys shaped like BullMQ's under the queue prefix, every hash with an anchor long expired. */
async function queueKeys(): Promise<string[]> {
  const old = String(Date.now() - 400 * DAY);
  const q = `${queuePrefix}:retention-sweeps`;
  await redis.hset(`${q}:1`, { name: 'sweep', data: '{}', [field]: old });
  await redis.hset(`${q}:2`, { name: 'batch', data: '{}', [field]: old });
  await redis.hset(`${q}:meta`, { opts: '{}', [field]: old });
  await redis.hset(`${q}:repeat:sessions`, { every: '3600000', [field]: old });
  await redis.set(`${q}:id`, '2');
  await redis.rpush(`${q}:wait`, '1');
  await redis.zadd(`${q}:delayed`, 1, '2');
  return [`${q}:1`, `${q}:2`, `${q}:meta`, `${q}:repeat:sessions`, `${q}:id`, `${q}:wait`, `${q}:delayed`];
}

async function sweep(keys: string): Promise<number> {
  const ranges = [{ from: null, to: Date.now() - 30 * DAY }];
  return (await store().apply({ rule: rule(keys), selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT })).rows;
}

describe('the queue prefix', () => {
  it.each(['*:*', '[a-z]*', 'rq_*', `${'?'.repeat(3)}*:*`])('is never swept by the pattern %s, though the expired session next to it is', async (pattern) => {
    const queue = await queueKeys();
    // Matched by every pattern above, but not under `rq_<id>:`.
    const session = `rq_session_${id}:1`;
    await redis.hset(session, field, String(Date.now() - 400 * DAY));
    const deleted = await sweep(pattern);
    for (const key of queue) expect(await redis.exists(key), key).toBe(1);
    expect(await redis.exists(session)).toBe(0);
    expect(deleted).toBe(1);
    // Nor are they counted, as expired or at all.
    expect(await store().count(rule(pattern), expired([{ from: null, to: Date.now() }]))).toBe(0);
    expect(await store().total(rule(pattern))).toBe(0);
  });

  it('does not count queue keys as unjudged either', async () => {
    await queueKeys();
    expect(await store().unjudged(rule('*:*'))).toEqual({});
  });

  it('is reported by check for any pattern that could reach it, and only then', async () => {
    for (const pattern of ['*:*', '[a-z]*', 'rq_*', `${queuePrefix}:*`, '*session*', '?q_*']) {
      const problems = await store().inspect(rule(pattern), 'rules[3]');
      expect(problems, pattern).toEqual([{ path: 'rules[3].keys', message: expect.stringContaining(`can match the queue's own keys ("${queuePrefix}:...", queuePrefix)`) }]);
    }
    expect(await store().inspect(rule(`session_${id}:*`), 'rules[3]')).toEqual([]);
  });

  it("is the config's queuePrefix in the stores a runtime builds", async () => {
    const queue = await queueKeys();
    const config = parseConfig(
      `
redis: "${DB_URL}"
state: "${DATABASE_URL}"
queuePrefix: ${queuePrefix}
stores:
  cache: { kind: redis, url: "${DB_URL}" }
rules:
  - { id: broad, store: cache, keys: "*:*", anchor: ${field}, anchorUnit: ms, retain: P30D, action: delete }
`,
      'test.yaml',
      {},
      STORE_KINDS,
    );
    const runtime = await openRuntime(config, {});
    try {
      const rule = config.rules[0]!;
      const ranges = [{ from: null, to: Date.now() - 30 * DAY }];
      await runtime.storeFor(rule).apply({ rule, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });
      for (const key of queue) expect(await redis.exists(key), key).toBe(1);
    } finally {
      await runtime.close();
    }
  });
});
