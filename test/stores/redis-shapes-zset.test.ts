import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DateTime, Duration } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expiredRanges, inRanges, type AnchorRange } from '../../src/policy/expiry.js';
import { REMOVE_BUDGET, scoreRanges, SortedSetShape } from '../../src/stores/redis/sorted-set-shape.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rzs_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

const key = (name: string) => `${prefix}:logins:${name}`;
const buffers = (...names: string[]) => names.map((n) => Buffer.from(key(n)));
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' }).toMillis();

async function members(name: string): Promise<string[]> {
  return (await redis.zrange(key(name), 0, -1)).sort();
}

describe('sorted sets scored by time (anchor: score)', () => {
  it('removes exactly the members whose score lies in the expired ranges, bounds inclusive, to the millisecond', async () => {
    // Aug 31 + P6M is due Feb 28 12:00; Aug 29 18:00 is due Feb 28 18:00: two ranges.
    const now = at('2027-02-28T12:00:00');
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');
    expect(ranges.length).toBeGreaterThan(1);
    const bound = at('2026-08-31T12:00:00');
    expect(inRanges(ranges, bound)).toBe(true);
    expect(inRanges(ranges, bound + 1)).toBe(false);
    await redis.zadd(
      key('u1'),
      bound - 1, 'before',
      bound, 'at-bound',
      bound - 0.5, 'half-before', // all of its millisecond (bound - 1 .. bound) is expired
      bound + 0.5, 'half-after', // its millisecond runs into bound + 1: kept
      bound + 1, 'after',
      at('2026-08-29T18:00:00'), 'older-but-not-due', // Aug 29 18:00 + P6M = Feb 28 18:00
      at('2026-08-29T11:59:59.999'), 'due-earlier',
    );
    const shape = new SortedSetShape('ms');
    const counted = await shape.count(redis, buffers('u1'), ranges);
    expect(counted.items).toBe(4);
    expect(await members('u1')).toHaveLength(7); // counting changes nothing
    const applied = await shape.apply(redis, buffers('u1'), ranges);
    expect(applied.items).toBe(4);
    expect(await members('u1')).toEqual(['after', 'half-after', 'older-but-not-due'].sort());
  });

  it('agrees member by member with inRanges over several ranges', async () => {
    const ranges: AnchorRange[] = [
      { from: null, to: at('2026-01-01T00:00:00') },
      { from: at('2026-01-05T00:00:00'), to: at('2026-01-06T00:00:00') },
    ];
    const scores = ranges.flatMap((r) => [r.from, r.to]).filter((b): b is number => b !== null).flatMap((b) => [b - 1, b - 0.5, b, b + 0.5, b + 1]);
    await redis.zadd(key('u'), ...scores.flatMap((s) => [s, `m${s}`]));
    // A fractional score is expired when all of its millisecond is.
    const expected = scores.filter((s) => inRanges(ranges, Math.floor(s)) && inRanges(ranges, Math.ceil(s)));
    expect((await new SortedSetShape('ms').apply(redis, buffers('u'), ranges)).items).toBe(expected.length);
    expect(await members('u')).toEqual(scores.filter((s) => !expected.includes(s)).map((s) => `m${s}`).sort());
  });

  it('with anchorUnit s, removes a member only once all of its second has expired', async () => {
    const second = at('2026-03-01T10:00:00') / 1000;
    const names = ['prev', 'whole', 'fraction', 'next'];
    await redis.zadd(key('u'), second - 1, 'prev', second, 'whole', second + 0.25, 'fraction', second + 1, 'next');
    const shape = new SortedSetShape('s');
    // Up to .998 of the second: the second is not all expired, only the one before it.
    expect((await shape.count(redis, buffers('u'), [{ from: null, to: second * 1000 + 998 }])).items).toBe(1);
    // Up to .999: the whole second has expired, its fractional member too; not the next one.
    expect((await shape.count(redis, buffers('u'), [{ from: null, to: second * 1000 + 999 }])).items).toBe(3);
    // A range starting one ms into the second leaves that second alone.
    expect((await shape.count(redis, buffers('u'), [{ from: second * 1000 + 1, to: second * 1000 + 5_000 }])).items).toBe(1);
    expect((await shape.count(redis, buffers('u'), [{ from: second * 1000, to: second * 1000 + 5_000 }])).items).toBe(3);
    expect((await shape.apply(redis, buffers('u'), [{ from: null, to: second * 1000 + 998 }])).items).toBe(1);
    expect(await members('u')).toEqual(names.filter((n) => n !== 'prev').sort());
  });

  it('keeps and counts members with implausible scores, whatever the ranges', async () => {
    const now = Date.now();
    await redis.zadd(
      key('u'),
      0, 'zero',
      Math.floor(now / 1000), 'seconds-written-as-ms', // January 1970 in ms
      now * 1000, 'microseconds', // far past 2100
      '-inf', 'minus-inf',
      '+inf', 'plus-inf',
      Date.UTC(2000, 0, 1) - 1, 'just-before-2000',
      Date.UTC(2000, 0, 1), 'first-plausible',
      now - 1_000, 'expired',
    );
    const shape = new SortedSetShape('ms');
    expect(await shape.unjudged(redis, buffers('u'))).toEqual({ 'implausible anchor': 6 });
    const applied = await shape.apply(redis, buffers('u'), [{ from: null, to: now }]);
    expect(applied.items).toBe(2);
    expect(applied.unjudged).toEqual({ 'implausible anchor': 6 });
    expect(await members('u')).toEqual(['zero', 'seconds-written-as-ms', 'microseconds', 'minus-inf', 'plus-inf', 'just-before-2000'].sort());
    // In seconds, milliseconds are implausible (after 2100) and count as such.
    await redis.zadd(key('s'), now, 'ms-written-as-s', Math.floor(now / 1000) - 10, 'ok');
    expect((await new SortedSetShape('s').apply(redis, buffers('s'), [{ from: null, to: now }])).unjudged).toEqual({ 'implausible anchor': 1 });
    expect(await members('s')).toEqual(['ms-written-as-s']);
  });

  it('keeps the key while it has members; Redis drops a key whose members all expired', async () => {
    const now = Date.now();
    await redis.zadd(key('partly'), now - 10_000, 'old', now + 10_000, 'fresh');
    await redis.zadd(key('wholly'), now - 10_000, 'old', now - 20_000, 'older');
    const applied = await new SortedSetShape('ms').apply(redis, buffers('partly', 'wholly'), [{ from: null, to: now }]);
    expect(applied.items).toBe(3);
    expect(await members('partly')).toEqual(['fresh']);
    expect(await redis.exists(key('wholly'))).toBe(0);
  });

  it('counts keys that are not sorted sets and never touches them', async () => {
    const old = String(Date.now() - 86_400_000);
    await redis.hset(key('hash'), 'score', old);
    await redis.set(key('string'), old);
    await redis.rpush(key('list'), old);
    await redis.xadd(key('stream'), '1-1', 'f', 'v');
    const shape = new SortedSetShape('ms');
    const names = ['hash', 'string', 'list', 'stream', 'missing'];
    const applied = await shape.apply(redis, buffers(...names), [{ from: null, to: Date.now() }]);
    expect(applied).toEqual({ items: 0, unjudged: { 'not a sorted set': 4 }, ttls: 0 });
    expect(await redis.hget(key('hash'), 'score')).toBe(old);
    expect(await redis.get(key('string'))).toBe(old);
    expect(await redis.lrange(key('list'), 0, -1)).toEqual([old]);
    expect(await redis.xlen(key('stream'))).toBe(1);
  });

  it('judges a member by the score it holds at removal: one used again since plan stays', async () => {
    const now = Date.now();
    await redis.zadd(key('u'), now - 60_000, 'session-a', now - 60_000, 'session-b');
    const ranges = [{ from: null, to: now - 1 }];
    const shape = new SortedSetShape('ms');
    expect((await shape.count(redis, buffers('u'), ranges)).items).toBe(2);
    await redis.zadd(key('u'), now, 'session-b'); // used again after the plan
    expect((await shape.apply(redis, buffers('u'), ranges)).items).toBe(1);
    expect(await members('u')).toEqual(['session-b']);
  });

  it('removes more members than one call may, in several calls, ties at the cut included, and nothing else', async () => {
    const base = at('2026-01-01T00:00:00');
    const n = REMOVE_BUDGET * 2 + 500;
    const args: (string | number)[] = [];
    // Scores repeat in runs of 7, so a cut lands inside a run of equal scores.
    for (let i = 0; i < n; i++) args.push(base + Math.floor(i / 7), `m${i}`);
    for (let i = 0; i < 50; i++) args.push(base + 10_000_000 + i, `keep${i}`);
    for (let i = 0; i < args.length; i += 10_000) await redis.zadd(key('big'), ...args.slice(i, i + 10_000));
    await redis.zadd(key('small'), base, 'x', base + 10_000_000, 'keep');
    const shape = new SortedSetShape('ms');
    const ranges = [{ from: null, to: base + 1_000_000 }];
    expect((await shape.count(redis, buffers('big', 'small'), ranges)).items).toBe(n + 1);
    expect((await shape.apply(redis, buffers('big', 'small'), ranges)).items).toBe(n + 1);
    expect(await redis.zcard(key('big'))).toBe(50);
    expect(await members('small')).toEqual(['keep']);
  });
});

describe('scoreRanges', () => {
  it('prints whole-number bounds and clips to the plausible window', () => {
    expect(scoreRanges([{ from: null, to: 1_767_225_600_123 }], 'ms').expired).toEqual([{ min: '946684800000', max: '1767225600123' }]);
    // From .001 of one second to .998 of the next: neither second lies wholly inside.
    expect(scoreRanges([{ from: 1_767_225_600_001, to: 1_767_225_601_998 }], 's').expired).toEqual([]);
    expect(scoreRanges([{ from: 1_767_225_600_000, to: 1_767_225_601_999 }], 's').expired).toEqual([{ min: '1767225600', max: '(1767225602' }]);
    expect(scoreRanges([{ from: null, to: Date.UTC(2200, 0, 1) }], 'ms').expired).toEqual([{ min: '946684800000', max: '(4102444800000' }]);
    expect(scoreRanges([{ from: null, to: Date.UTC(1999, 0, 1) }], 'ms').expired).toEqual([]);
  });
});
