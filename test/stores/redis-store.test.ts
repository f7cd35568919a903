import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DateTime, Duration } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { UserError } from '../../src/errors.js';
import { isTransient } from '../../src/executor/classify-error.js';
import { expiredRanges, inRanges, type AnchorRange } from '../../src/policy/expiry.js';
import { deleteIfUnchanged } from '../../src/stores/redis/delete-if-unchanged.js';
import { RedisStore, SCAN_COUNT } from '../../src/stores/redis/redis-store.js';
import { createTestEnv, DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { expired as expiredSelection } from '../../src/stores/selection.js';
import type { RedisRule, RedisTarget } from '../../src/stores/redis/target.js';

const FIELD = 'seen_at';
const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };

let redis: Redis;
/** Every key of a test starts with its own random prefix, deleted afterwards. */
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rs_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

const store = () => new RedisStore('cache', REDIS_URL, 'stores.cache.url in test.yaml', `${prefix}_queue`);

function rule(target: Partial<RedisTarget> = {}): RedisRule {
  return {
    id: 'sessions',
    hash: 'test',
    source: null,
    store: 'cache',
    kind: 'redis',
    retain: 'P6M',
    never: false,
    action: 'delete',
    subject: null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    target: { keys: `${prefix}:session:*`, anchor: FIELD, anchorUnit: 'ms', ...target },
  };
}

async function session(name: string, fields: Record<string, string>): Promise<string> {
  const key = `${prefix}:session:${name}`;
  await redis.hset(key, fields);
  return key;
}

async function sweep(ranges: readonly AnchorRange[], dryRun = false): Promise<number> {
  const spec = { rule: rule(), selection: expiredSelection(ranges), keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT };
  return (await store().apply(spec)).rows;
}

async function exists(key: string): Promise<boolean> {
  return (await redis.exists(key)) === 1;
}

describe('the redis store', () => {
  it('deletes a key whose anchor is exactly at the end of its period and keeps one a millisecond later', async () => {
    // Aug 31 + P6M is Feb 28 (clamped): due at Feb 28 12:00, as luxon computes it.
    const now = DateTime.fromISO('2027-02-28T12:00:00Z').toMillis();
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');
    const at = (iso: string) => String(DateTime.fromISO(iso, { zone: 'UTC' }).toMillis());
    const due = await session('due', { [FIELD]: at('2026-08-31T12:00:00.000') });
    const justAfter = await session('just-after', { [FIELD]: at('2026-08-31T12:00:00.001') });
    const old = await session('old', { [FIELD]: at('2025-01-01T00:00:00') });
    // Aug 29 18:00 + P6M = Feb 28 18:00: six hours to go, although it is older than `due`.
    const notYet = await session('not-yet', { [FIELD]: at('2026-08-29T18:00:00') });

    expect(await store().count(rule(), expiredSelection(ranges))).toBe(2);
    expect(await sweep(ranges)).toBe(2);
    expect(await exists(due)).toBe(false);
    expect(await exists(old)).toBe(false);
    expect(await exists(justAfter)).toBe(true);
    expect(await exists(notYet)).toBe(true);
  });

  it('keeps keys with no anchor field, a non-numeric anchor, or that are not hashes', async () => {
    const ranges = [{ from: null, to: Date.now() }];
    const longAgo = String(Date.parse('2020-01-01T00:00:00Z'));
    const kept = [
      await session('no-field', { user: 'u1' }),
      await session('text', { [FIELD]: 'yesterday' }),
      await session('empty', { [FIELD]: '' }),
      await session('fraction', { [FIELD]: '1.5' }),
      await session('hex', { [FIELD]: '0x10' }),
      await session('padded', { [FIELD]: ` ${longAgo}` }),
    ];
    const plain = `${prefix}:session:plain-string`;
    await redis.set(plain, longAgo);
    const list = `${prefix}:session:list`;
    await redis.rpush(list, longAgo);
    const expired = await session('expired', { [FIELD]: longAgo });

    expect(await store().count(rule(), expiredSelection(ranges))).toBe(1);
    expect(await sweep(ranges)).toBe(1);
    expect(await exists(expired)).toBe(false);
    for (const key of [...kept, plain, list]) expect(await exists(key), key).toBe(true);
    expect(await store().unjudged(rule())).toEqual({ 'missing anchor': 1, 'malformed anchor': 5, 'not a hash': 2 });
  });

  it('deletes a judged key only while its anchor still holds the value it was judged by', async () => {
    const old = String(Date.now() - 10 * DAY);
    const names = ['stays', 'used-again', 'rewritten-still-old', 'field-removed', 'now-a-string', 'gone'];
    const keys = await Promise.all(names.map((name) => session(name, { [FIELD]: old, user: name })));
    const [stays, usedAgain, rewritten, fieldRemoved, nowString, gone] = keys as [string, string, string, string, string, string];
    // Everything was judged expired by `old`; then, before the delete:
    await redis.hset(usedAgain, FIELD, String(Date.now()));
    await redis.hset(rewritten, FIELD, String(Number(old) - DAY));
    await redis.hdel(fieldRemoved, FIELD);
    await redis.del(nowString);
    await redis.set(nowString, old);
    await redis.del(gone);

    const judged = keys.map((key) => ({ key: Buffer.from(key), anchor: old }));
    expect(await deleteIfUnchanged(redis, judged, FIELD)).toEqual({ changed: 1, held: 0 });
    expect(await exists(stays)).toBe(false);
    // A changed anchor is judged again by the next sweep, never deleted on the old verdict.
    for (const key of [usedAgain, rewritten, fieldRemoved, nowString]) expect(await exists(key), key).toBe(true);
  });

  it('agrees with inRanges on every key across several SCAN pages, and a dry run changes nothing', async () => {
    const now = Date.parse('2026-03-29T01:15:00Z');
    // Two ranges: the DST gap makes later anchors expire earlier (see expiry.test.ts).
    const ranges = expiredRanges(now, Duration.fromISO('P1D'), 'Europe/Berlin');
    expect(ranges.length).toBeGreaterThan(1);
    const anchors = Array.from({ length: 3 * SCAN_COUNT + 17 }, (_, i) => now - DAY - 3 * 3_600_000 + i * 7_000);
    const pipeline = redis.pipeline();
    anchors.forEach((a, i) => pipeline.hset(`${prefix}:session:${i}`, FIELD, String(a)));
    await pipeline.exec();
    const expected = anchors.filter((a) => inRanges(ranges, a)).length;
    expect(expected).toBeGreaterThan(0);
    expect(expected).toBeLessThan(anchors.length);

    expect(await sweep(ranges, true)).toBe(expected);
    expect(await store().total(rule())).toBe(anchors.length);
    expect(await sweep(ranges)).toBe(expected);
    for (let i = 0; i < anchors.length; i += 97) {
      expect(await exists(`${prefix}:session:${i}`)).toBe(!inRanges(ranges, anchors[i]!));
    }
    expect(await store().total(rule())).toBe(anchors.length - expected);
  });

  it('names the URL and where it came from when Redis is unreachable', async () => {
    const down = new RedisStore('cache', 'redis://:secret@127.0.0.1:1', 'stores.cache.url in test.yaml, from $CACHE_URL', 'retention');
    const error = await down.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^cannot connect to Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/? \(stores\.cache\.url in test\.yaml, from \$CACHE_URL\): /);
    expect((error as Error).message).not.toContain('secret');
  });

  it('lets the queue retry a batch that cannot reach Redis, instead of failing it for good', async () => {
    const down = new RedisStore('cache', 'redis://127.0.0.1:1', 'stores.cache.url in test.yaml', 'retention');
    const spec = { rule: rule(), selection: expiredSelection([{ from: null, to: Date.now() }]), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT };
    const error = await down.apply(spec).catch((e: unknown) => e);
    expect((error as Error).message).toContain('cannot connect to Redis at redis://127.0.0.1:1');
    expect(isTransient(error)).toBe(true);
  });

  it('refuses a pattern that matches every key', async () => {
    const problems = await store().inspect(rule({ keys: '*' }), 'rules[0]');
    expect(problems).toEqual([{ path: 'rules[0].keys', message: expect.stringContaining('matches every key') }]);
    expect(await store().inspect(rule(), 'rules[0]')).toEqual([]);
  });
});

describe('a redis sweep through the queue', () => {
  it('deletes exactly the expired sessions and audits the count', async () => {
    const env = await createTestEnv();
    try {
      const now = Date.now();
      const expiredKeys: string[] = [];
      const liveKeys: string[] = [];
      for (let i = 0; i < 250; i++) {
        // 1..250 days old against P30D: days 31 and up have ended (day 30 only by seconds, so skip it).
        const age = i + 1;
        if (age === 30) continue;
        const key = await session(`s${i}`, { [FIELD]: String(now - age * DAY), user: `u${i}` });
        (age > 30 ? expiredKeys : liveKeys).push(key);
      }
      liveKeys.push(await session('no-anchor', { user: 'x' }));
      const config = env.config([{ id: 'sessions', store: 'cache', keys: `${prefix}:session:*`, anchor: FIELD, anchorUnit: 'ms', retain: 'P30D', action: 'delete' }], {
        stores: { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: REDIS_URL } },
      });

      const [result] = await env.run(config);
      expect(result!.sweep.rowsAffected).toBe(expiredKeys.length);
      for (const key of expiredKeys) expect(await exists(key), key).toBe(false);
      for (const key of liveKeys) expect(await exists(key), key).toBe(true);

      const runtime = await env.runtime(config);
      expect((await verifyAudit(runtime.state)).ok).toBe(true);
      const audited = await env.sql<{ rows: string; batches: string }>(
        `SELECT sum((entry->>'rows')::int) AS rows, count(*) AS batches FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`,
      );
      expect(Number(audited[0]!.rows)).toBe(expiredKeys.length);
      expect(Number(audited[0]!.batches)).toBe(1);

      // Nothing is left to do: a second sweep deletes and audits nothing more.
      const [again] = await env.run(config);
      expect(again!.sweep.rowsAffected).toBe(0);
    } finally {
      await env.cleanup();
    }
  });
});
