import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DateTime, Duration } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expiresAt } from '../../src/policy/expires-at.js';
import { expiredRanges } from '../../src/policy/expiry.js';
import { ExpireTtlShape, expireIfUnchanged } from '../../src/stores/redis/expire-ttl.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

const FIELD = 'created_at';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rex_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

const key = (name: string) => `${prefix}:session:${name}`;
const buffers = (...names: string[]) => names.map((n) => Buffer.from(key(n)));

async function session(name: string, anchor: number | string): Promise<void> {
  await redis.hset(key(name), FIELD, String(anchor), 'user', 'u1');
}

async function expireTime(name: string): Promise<number> {
  return Number(await redis.call('PEXPIRETIME', key(name)));
}

/** A sweep at `now` (the Redis clock's own now, so the TTLs set lie ahead of it). */
function sweep(shape: ExpireTtlShape, names: string[], now = Date.now(), dryRun = false) {
  const ranges = expiredRanges(now, shape.retain, shape.timezone);
  return dryRun ? shape.count(redis, buffers(...names), ranges) : shape.apply(redis, buffers(...names), ranges);
}

describe('action: expire (a TTL at the instant the period ends)', () => {
  it('sets PEXPIREAT to anchor + retain exactly as luxon computes it in the rule zone', async () => {
    // A month-end anchor (clamped) and a DST change in Berlin: not "anchor + a fixed number of ms".
    const now = Date.now();
    const zone = 'Europe/Berlin';
    const retain = Duration.fromISO('P1M');
    const monthEnd = DateTime.fromMillis(now, { zone }).minus({ days: 20 }).endOf('month').startOf('minute').toMillis();
    const recent = now - 3 * DAY + 0.5 * HOUR;
    await session('month-end', monthEnd);
    await session('recent', recent);
    await session('iso', DateTime.fromMillis(recent, { zone }).toISO()!);
    const shape = new ExpireTtlShape(FIELD, 'ms', retain, zone);
    const isoShape = new ExpireTtlShape(FIELD, 'iso', retain, zone);
    const applied = await sweep(shape, ['month-end', 'recent']);
    expect(applied.items).toBe(0);
    expect(applied.ttls).toBe(2);
    expect((await sweep(isoShape, ['iso'])).ttls).toBe(1);
    const luxon = (a: number) => DateTime.fromMillis(a, { zone }).plus(retain).toMillis();
    expect(await expireTime('month-end')).toBe(luxon(monthEnd));
    expect(await expireTime('recent')).toBe(luxon(recent));
    expect(await expireTime('iso')).toBe(luxon(recent));
    expect(await expireTime('recent')).toBe(expiresAt(recent, retain, zone));
    // Nothing else of the key changed.
    expect(await redis.hgetall(key('recent'))).toEqual({ [FIELD]: String(recent), user: 'u1' });
  });

  it('shortens a longer TTL, sets one where there is none, and never lengthens a shorter one', async () => {
    const now = Date.now();
    const anchor = now - 10 * DAY;
    const retain = Duration.fromISO('P30D');
    const due = expiresAt(anchor, retain, 'UTC');
    for (const name of ['none', 'longer', 'shorter', 'equal']) await session(name, anchor);
    await redis.pexpireat(key('longer'), due + DAY);
    await redis.pexpireat(key('shorter'), due - DAY);
    await redis.pexpireat(key('equal'), due);
    const shape = new ExpireTtlShape(FIELD, 'ms', retain, 'UTC');
    const names = ['none', 'longer', 'shorter', 'equal'];
    expect((await sweep(shape, names, now, true)).ttls).toBe(2);
    expect(await expireTime('none')).toBe(-1); // a dry run sets nothing
    expect((await sweep(shape, names, now)).ttls).toBe(2);
    expect(await expireTime('none')).toBe(due);
    expect(await expireTime('longer')).toBe(due);
    expect(await expireTime('shorter')).toBe(due - DAY);
    expect(await expireTime('equal')).toBe(due);
    // A second sweep has nothing left to set.
    expect((await sweep(shape, names, now)).ttls).toBe(0);
  });

  it('deletes keys already past their instant, as delete does, and counts them as items', async () => {
    const now = Date.now();
    const retain = Duration.fromISO('P30D');
    await session('past', now - 31 * DAY);
    await session('exactly-due', now - 30 * DAY);
    await session('not-yet', now - 30 * DAY + HOUR);
    const shape = new ExpireTtlShape(FIELD, 'ms', retain, 'UTC');
    const counted = await sweep(shape, ['past', 'exactly-due', 'not-yet'], now, true);
    expect(counted).toEqual({ items: 2, unjudged: {}, ttls: 1 });
    expect(await sweep(shape, ['past', 'exactly-due', 'not-yet'], now)).toEqual({ items: 2, unjudged: {}, ttls: 1 });
    expect(await redis.exists(key('past'), key('exactly-due'))).toBe(0);
    expect(await expireTime('not-yet')).toBe(now + HOUR);
  });

  it('leaves keys it cannot judge, or that are not hashes, without a TTL, and counts them', async () => {
    const old = Date.now() - 400 * DAY;
    await redis.hset(key('no-field'), 'user', 'u1');
    await session('malformed', 'yesterday');
    await session('implausible', Math.floor(Date.now() / 1000)); // seconds written as ms: 1970
    await redis.set(key('string'), String(old));
    await redis.zadd(key('zset'), old, 'm');
    const names = ['no-field', 'malformed', 'implausible', 'string', 'zset'];
    const shape = new ExpireTtlShape(FIELD, 'ms', Duration.fromISO('P30D'), 'UTC');
    const applied = await sweep(shape, names);
    expect(applied).toEqual({
      items: 0,
      ttls: 0,
      unjudged: { 'missing anchor': 1, 'malformed anchor': 1, 'implausible anchor': 1, 'not a hash': 2 },
    });
    for (const name of names) {
      expect(await redis.exists(key(name)), name).toBe(1);
      expect(await expireTime(name), name).toBe(-1);
    }
  });

  it('sets no TTL on a key whose anchor changed since it was judged', async () => {
    const anchor = Date.now() - DAY;
    await session('rewritten', anchor);
    await session('same', anchor);
    await session('rewritten', anchor + 1); // written again between the read and the PEXPIREAT
    const at = anchor + 30 * DAY;
    const judged = [
      { key: Buffer.from(key('rewritten')), anchor: String(anchor), at },
      { key: Buffer.from(key('same')), anchor: String(anchor), at },
    ];
    expect(await expireIfUnchanged(redis, judged, FIELD)).toEqual({ changed: 1, held: 0 });
    expect(await expireTime('rewritten')).toBe(-1);
    expect(await expireTime('same')).toBe(at);
  });
});
