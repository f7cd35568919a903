import type { Redis } from 'ioredis';

/**
 * Deletes the demo's BullMQ keys: exactly the keys `<prefix>:...`, nothing of anyone else
 * sharing the Redis. BullMQ names every key of a queue `<prefix>:<queue>:...`, so a prefix
 * of one user is never a key of another's (`retention-demo` does not reach
 * `retention-demo-bob:...`: the colon ends the prefix). The SCAN pattern escapes glob
 * characters and every key is checked again before it is deleted, so this stays exact
 * whatever characters a prefix may someday hold. Returns how many keys were deleted.
 */
export async function clearDemoQueueKeys(redis: Redis, prefix: string): Promise<number> {
  const own = `${prefix}:`;
  const pattern = `${own.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cleared = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    const ours = keys.filter((key) => key.startsWith(own));
    if (ours.length > 0) cleared += await redis.unlink(...ours);
    cursor = next;
  } while (cursor !== '0');
  return cleared;
}
