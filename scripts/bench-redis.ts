import type { Redis } from 'ioredis';
import { BENCH_KEY_PREFIX, SESSION_FIELD } from './bench-data.js';

const DAY_MS = 86_400_000;
/** The same page size the store asks SCAN for, so both walk the keyspace alike. */
const SCAN_COUNT = 1_000;

/**
 * What a user would write by hand: SCAN a page, read every key's anchor with HGET (one
 * pipelined round trip), UNLINK the expired ones, repeat. Not atomic: a session used
 * again between the HGET and the UNLINK is deleted anyway.
 */
export async function rawRedisLoop(redis: Redis, retainDays: number): Promise<{ seconds: number; keys: number }> {
  const cutoff = Date.now() - retainDays * DAY_MS;
  const started = performance.now();
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${BENCH_KEY_PREFIX}*`, 'COUNT', SCAN_COUNT);
    cursor = next;
    if (keys.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of keys) pipeline.hget(key, SESSION_FIELD);
    const anchors = (await pipeline.exec()) ?? [];
    const expired = keys.filter((_, i) => {
      const value = anchors[i]?.[1];
      return typeof value === 'string' && /^-?\d+$/.test(value) && Number(value) <= cutoff;
    });
    if (expired.length > 0) deleted += await redis.unlink(...expired);
  } while (cursor !== '0');
  return { seconds: (performance.now() - started) / 1000, keys: deleted };
}
