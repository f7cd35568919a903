import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expiresAt } from '../../src/policy/expires-at.js';
import { parseDuration } from '../../src/policy/duration.js';
import { expiredRanges } from '../../src/policy/expiry.js';
import { expired } from '../../src/stores/selection.js';
import { redisKind } from '../../src/stores/redis/kind.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { RedisRule, RedisTarget } from '../../src/stores/redis/target.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * The shapes wired into the redis store: a rule's `shape` and `action` pick them, the
 * queue's own keys stay out of reach whatever the pattern, and the store counts items
 * (members, entries), not keys.
 */

const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };

let redis: Redis;
let prefix: string;
let queuePrefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rsh_${randomBytes(5).toString('hex')}`;
  // The pattern `${prefix}*` below reaches the queue's keys too: they must stay untouched.
  queuePrefix = `${prefix}_queue`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}*`);
  redis.disconnect();
});

const store = () => new RedisStore('cache', REDIS_URL, 'stores.cache.url in test.yaml', queuePrefix);

function rule(target: Partial<RedisTarget>, action: RedisRule['action'] = 'delete', retain = 'P30D'): RedisRule {
  return {
    id: 'shapes',
    hash: 'test',
    source: null,
    store: 'cache',
    kind: 'redis',
    retain,
    never: false,
    action,
    subject: null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    target: { keys: `${prefix}*`, anchor: 'created_at', anchorUnit: 'ms', ...target },
  };
}

async function sweep(r: RedisRule, now: number, dryRun = false) {
  const selection = expired(expiredRanges(now, parseDuration(r.retain), r.timezone));
  return store().apply({ rule: r, selection, keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });
}

describe('redis shapes through the store', () => {
  it('sweeps sorted set members, never the queue prefix, and counts members', async () => {
    const now = Date.now();
    const q = `${queuePrefix}:retention-sweeps:events`;
    await redis.zadd(q, now - 90 * DAY, 'job-1');
    await redis.zadd(`${prefix}:logins:u1`, now - 40 * DAY, 'a', now - 31 * DAY, 'b', now - DAY, 'c');
    await redis.zadd(`${prefix}:logins:u2`, now - 40 * DAY, 'a', 0, 'placeholder');
    await redis.hset(`${prefix}:logins:odd`, 'created_at', String(now - 40 * DAY));
    const r = rule({ shape: 'zset', anchor: 'score' });
    const selection = expired(expiredRanges(now, parseDuration('P30D'), 'UTC'));
    expect(await store().count(r, selection)).toBe(3);
    expect(await store().total(r)).toBe(5); // members of sorted sets only: the hash is not counted
    expect(await store().unjudged(r)).toEqual({ 'implausible anchor': 1, 'not a sorted set': 1 });
    expect(await sweep(r, now, true)).toEqual({ rows: 3 });
    expect(await sweep(r, now)).toEqual({ rows: 3 });
    expect(await redis.zrange(`${prefix}:logins:u1`, 0, -1)).toEqual(['c']);
    expect(await redis.zrange(`${prefix}:logins:u2`, 0, -1)).toEqual(['placeholder']);
    expect(await redis.zcard(q)).toBe(1);
  });

  it('sweeps stream entries, never the queue prefix (BullMQ keeps an events stream there)', async () => {
    const now = Date.now();
    const q = `${queuePrefix}:retention-sweeps:events`;
    await redis.xadd(q, `${now - 90 * DAY}-0`, 'event', 'completed');
    const audit = `${prefix}:audit-trail`;
    await redis.xadd(audit, `${now - 40 * DAY}-0`, 'user', 'u1');
    await redis.xadd(audit, `${now - 20 * DAY}-0`, 'user', 'u2');
    const r = rule({ shape: 'stream', anchor: 'stream-id' });
    expect(await store().total(r)).toBe(2);
    expect(await sweep(r, now)).toEqual({ rows: 1 });
    expect(await redis.xlen(audit)).toBe(1);
    expect(await redis.xlen(q)).toBe(1);
  });

  it('expire: sets TTLs on every key of the pattern, deletes the past ones, reports both, and never reaches the queue prefix', async () => {
    const now = Date.now();
    const qJob = `${queuePrefix}:retention-sweeps:1`;
    await redis.hset(qJob, 'created_at', String(now - 90 * DAY));
    await redis.hset(`${prefix}:session:old`, 'created_at', String(now - 31 * DAY));
    await redis.hset(`${prefix}:session:new`, 'created_at', String(now - DAY));
    const r = rule({}, 'expire');
    expect(await sweep(r, now, true)).toEqual({ rows: 1, ttls: 1 });
    expect(await sweep(r, now)).toEqual({ rows: 1, ttls: 1 });
    expect(await redis.exists(`${prefix}:session:old`)).toBe(0);
    expect(Number(await redis.call('PEXPIRETIME', `${prefix}:session:new`))).toBe(expiresAt(now - DAY, parseDuration('P30D'), 'UTC'));
    expect(await redis.exists(qJob)).toBe(1);
    expect(Number(await redis.call('PEXPIRETIME', qJob))).toBe(-1);
  });
});

describe('the redis kind reads shape, anchor and action together', () => {
  const check = (target: Record<string, unknown>, action: RedisRule['action'] = 'delete') => {
    const parsed = redisKind.targetSchema.safeParse({ keys: 'k:*', anchorUnit: 'ms', ...target });
    if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    const r = { ...rule({}), action, target: parsed.data };
    return redisKind.checkRule!(r, { url: REDIS_URL }, 'rules[0]', { stateSchema: 'retention', timezone: 'UTC' }).map((p) => `${p.path}: ${p.message}`);
  };

  it('accepts each shape with its own anchor, and expire on hashes', () => {
    expect(check({ anchor: 'created_at' })).toEqual([]);
    expect(check({ anchor: 'created_at' }, 'expire')).toEqual([]);
    expect(check({ shape: 'zset', anchor: 'score' })).toEqual([]);
    expect(check({ shape: 'zset', anchor: 'score', anchorUnit: 's' })).toEqual([]);
    expect(check({ shape: 'stream', anchor: 'stream-id' })).toEqual([]);
  });

  it('refuses a shape guessed from the anchor, a wrong anchor or unit for the shape, and expire on members or entries', () => {
    expect(check({ anchor: 'score' })).toEqual([expect.stringMatching(/^rules\[0\]\.anchor: .*shape: zset/)]);
    expect(check({ anchor: 'stream-id' })).toEqual([expect.stringMatching(/^rules\[0\]\.anchor: .*shape: stream/)]);
    expect(check({ shape: 'zset', anchor: 'created_at' })).toEqual([expect.stringMatching(/^rules\[0\]\.anchor: /)]);
    expect(check({ shape: 'zset', anchor: 'score', anchorUnit: 'iso' })).toEqual([expect.stringMatching(/^rules\[0\]\.anchorUnit: /)]);
    expect(check({ shape: 'stream', anchor: 'stream-id', anchorUnit: 's' })).toEqual([expect.stringMatching(/^rules\[0\]\.anchorUnit: /)]);
    expect(check({ shape: 'zset', anchor: 'score' }, 'expire')).toEqual([expect.stringMatching(/^rules\[0\]\.action: .*only delete/)]);
    expect(check({ shape: 'list', anchor: 'x' })).toEqual([expect.stringMatching(/^shape: "list" is not a redis shape/)]);
    expect(check({ anchor: 'created-at' })).toEqual([expect.stringMatching(/^anchor: "created-at" is not a hash field name/)]);
  });
});
