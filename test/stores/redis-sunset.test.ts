import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUBJECT_PLACEHOLDER } from '../../src/policy/rule.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import type { RedisRule, RedisTarget } from '../../src/stores/redis/target.js';
import { everything, exceptHeld, expired, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';
import { testRule } from '../helpers/test-rule.js';

/**
 * A sunset's selection (`all`) on Redis, against the real server: every key of the rule's
 * shape whatever its anchor (old, fresh, missing, malformed, implausible), whole sorted
 * sets and streams, an `expire` rule's keys deleted rather than given a TTL; keys of held
 * subjects kept (by `{subject}` segment or by field) and counted; keys of another type,
 * keys without a subject segment and the queue's own keys never touched.
 */

const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rsun_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  await deleteKeysMatching(redis, `${prefix}_queue:*`);
  redis.disconnect();
});

const store = () => new RedisStore('cache', REDIS_URL, 'stores.cache.url in test.yaml', `${prefix}_queue`);

function rule(target: Partial<RedisTarget>, fields: Partial<RedisRule> = {}): RedisRule {
  const keys = target.keys ?? `${prefix}:session:*`;
  return testRule(
    { id: 'sessions', store: 'cache', kind: 'redis', target: { keys, anchor: 'at', anchorUnit: 'ms', ...target } },
    { retain: 'P30D', subject: keys.includes(SUBJECT_PLACEHOLDER) ? SUBJECT_PLACEHOLDER : null, ...fields },
  ) as RedisRule;
}

const apply = (r: RedisRule, selection: Selection, dryRun = false): Promise<BatchResult> =>
  store().apply({ rule: r, selection, keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });

async function existing(pattern: string): Promise<string[]> {
  return (await redis.keys(pattern)).sort();
}

describe('redis: a sunset selects every key of the rule, whatever its anchor', () => {
  it('deletes every hash of the pattern, old, fresh, missing, malformed or implausible, and nothing else', async () => {
    await redis.hset(`${prefix}:session:old`, { at: String(Date.now() - 400 * DAY) });
    await redis.hset(`${prefix}:session:fresh`, { at: String(Date.now()) });
    await redis.hset(`${prefix}:session:missing`, { other: 'x' });
    await redis.hset(`${prefix}:session:malformed`, { at: 'yesterday' });
    await redis.hset(`${prefix}:session:implausible`, { at: '12' });
    await redis.set(`${prefix}:session:string`, 'not a hash');
    await redis.hset(`${prefix}:other:old`, { at: String(Date.now() - 400 * DAY) });
    // The queue's own key lies inside the rule's pattern (an old hash it would otherwise
    // take), so only the store's queue exclusion keeps it.
    const queueKey = `${prefix}:session:queue:x`;
    await redis.hset(queueKey, { at: String(Date.now() - 400 * DAY) });
    const inner = new RedisStore('cache', REDIS_URL, 'stores.cache.url in test.yaml', `${prefix}:session:queue`);
    const r = rule({});
    expect(await inner.unjudged(r)).toEqual({ 'missing anchor': 1, 'malformed anchor': 1, 'implausible anchor': 1, 'not a hash': 1 });
    expect(await inner.count(r, expired([{ from: null, to: Date.now() - 30 * DAY }]))).toBe(1);
    expect(await inner.count(r, everything())).toBe(5);
    const applyInner = (dryRun: boolean) => inner.apply({ rule: r, selection: everything(), keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });
    expect(await applyInner(true)).toEqual({ rows: 5 });
    expect(await existing(`${prefix}:session:*`)).toHaveLength(7);
    expect(await applyInner(false)).toEqual({ rows: 5 });
    expect(await existing(`${prefix}*`)).toEqual([`${prefix}:other:old`, queueKey, `${prefix}:session:string`]);
  });

  it('deletes an expire rule\'s keys at once instead of giving them a TTL', async () => {
    await redis.hset(`${prefix}:session:fresh`, { at: String(Date.now()) });
    const r = rule({}, { action: 'expire' });
    expect(await apply(r, everything())).toEqual({ rows: 1 });
    expect(await redis.exists(`${prefix}:session:fresh`)).toBe(0);
  });

  it('deletes whole sorted sets and streams, every member and entry, implausible ones too', async () => {
    const now = Date.now();
    await redis.zadd(`${prefix}:logins:u1`, now, 'today', now - 400 * DAY, 'last-year', 5, 'implausible');
    await redis.xadd(`${prefix}:events:u1`, '1-1', 'kind', 'custom-id');
    await redis.xadd(`${prefix}:events:u1`, '*', 'kind', 'login');
    const zset = rule({ keys: `${prefix}:logins:*`, anchor: 'score', shape: 'zset' });
    const stream = rule({ keys: `${prefix}:events:*`, anchor: 'stream-id', shape: 'stream' });
    expect(await store().count(zset, everything())).toBe(3);
    expect(await store().count(stream, everything())).toBe(2);
    expect(await apply(zset, everything())).toEqual({ rows: 3 });
    expect(await apply(stream, everything())).toEqual({ rows: 2 });
    expect(await existing(`${prefix}:*`)).toEqual([]);
  });

  it("keeps the keys of held subjects, by segment, and counts them; a key with no segment is not the rule's", async () => {
    for (const id of ['u1', 'u2', 'u3']) {
      await redis.hset(`${prefix}:session:${id}:a`, { at: String(Date.now()) });
      await redis.hset(`${prefix}:session:${id}:b`, { at: 'garbage' });
    }
    await redis.hset(`${prefix}:session::orphan`, { at: String(Date.now() - 400 * DAY) });
    const r = rule({ keys: `${prefix}:session:${SUBJECT_PLACEHOLDER}:*` });
    const selection = exceptHeld(everything(), ['u2']);
    expect(await store().count(r, everything())).toBe(6);
    expect(await store().count(r, selection)).toBe(4);
    expect(await apply(r, selection)).toEqual({ rows: 4, held: 2 });
    expect(await existing(`${prefix}:*`)).toEqual([`${prefix}:session::orphan`, `${prefix}:session:u2:a`, `${prefix}:session:u2:b`]);
  });

  it('keeps the hashes whose subject field names a held person, read in the script that deletes', async () => {
    await redis.hset(`${prefix}:session:1`, { at: String(Date.now()), uid: 'alice' });
    await redis.hset(`${prefix}:session:2`, { at: 'garbage', uid: 'held' });
    await redis.hset(`${prefix}:session:3`, { uid: 'bob' });
    await redis.hset(`${prefix}:session:4`, { at: String(Date.now()) });
    const r = rule({}, { subject: 'uid' });
    expect(await apply(r, exceptHeld(everything(), ['held']))).toEqual({ rows: 3, held: 1 });
    expect(await existing(`${prefix}:*`)).toEqual([`${prefix}:session:2`]);
  });

  it('refuses held subjects on a rule that cannot tell whose its keys are, rather than ignore the hold', async () => {
    await redis.hset(`${prefix}:session:1`, { at: String(Date.now()) });
    await expect(store().count(rule({}), exceptHeld(everything(), ['u1']))).rejects.toThrow(/excluding held subjects is not supported/);
    await expect(apply(rule({}), exceptHeld(everything(), ['u1']))).rejects.toThrow(/excluding held subjects is not supported/);
    expect(await redis.exists(`${prefix}:session:1`)).toBe(1);
  });
});
