import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { globCanMatchPrefix } from '../../src/stores/redis/glob-can-match-prefix.js';
import { REDIS_URL } from '../helpers/test-env.js';

/**
 * `check` names a Redis rule whose pattern could reach the queue's own keys; that needs
 * an exact reading of Redis glob syntax (`stringmatchlen`), checked here against tables
 * and against Redis itself.
 */

/** A database of its own: the patterns below scan all of it (redis-queue-prefix.test.ts has 11). */
const OWN_DB = 12;
const DB_URL = `${REDIS_URL.replace(/\/\d*$/, '')}/${OWN_DB}`;

let redis: Redis;
let id: string;

beforeEach(() => {
  redis = new Redis(DB_URL, { maxRetriesPerRequest: null });
  id = randomBytes(5).toString('hex');
});

afterEach(() => {
  redis.disconnect();
});

describe('globCanMatchPrefix, read as Redis reads a SCAN pattern', () => {
  const prefix = 'retention:';
  it.each([
    ['*', true],
    ['*:*', true],
    ['[a-z]*', true],
    ['r*', true],
    ['ret?ntion:*', true],
    ['retention:*', true],
    ['retention:', true],
    ['*session*', true],
    ['\\r*', true],
    ['[^s]*', true],
    ['[^]*', true],
    ['[q-s]etention*', true],
    ['[s-q]etention*', true],
    ['retention[:]*', true],
    ['[a-', false],
    ['session:*', false],
    ['[^r]*', false],
    ['[s-z]*', false],
    ['retention', false],
    ['retention_x:*', false],
    ['retention?*', true],
    ['rf*', false],
    ['[]*', false],
    ['\\*:*', false],
  ] as const)('%s -> %s', (pattern, expected) => {
    expect(globCanMatchPrefix(pattern, prefix)).toBe(expected);
  });

  it('agrees with Redis itself: a pattern Redis matches to a key under the prefix is one it can match', async () => {
    const key = `${prefix}${id}`;
    await redis.set(key, '1');
    let matched = 0;
    try {
      for (const pattern of ['*', '*:*', '[a-z]*', '[^s]*', '[q-s]etention*', '[s-q]etention*', '\\r*', 'retention[:]*', 'retention?*', '[a-', '[s-z]*', '[^r]*', 'rf*']) {
        const found: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          found.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        if (found.includes(key)) {
          matched++;
          expect(globCanMatchPrefix(pattern, prefix), pattern).toBe(true);
        }
      }
    } finally {
      await redis.del(key);
    }
    expect(matched).toBe(9);
  });
});
