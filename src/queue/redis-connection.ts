import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../errors.js';
import { redactUrl } from '../redact.js';

const PING_TIMEOUT_MS = 3_000;

/**
 * A connection for BullMQ. Workers and queue clients wait for Redis to come back rather
 * than fail a command (`maxRetriesPerRequest: null`, as BullMQ requires for workers).
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, ...options });
}

/**
 * Checks Redis once, quickly, before anything is started, so an unreachable Redis is one
 * clear message (with the URL and where it came from) instead of endless reconnecting.
 * Also returns the eviction policy: evicted job keys would be lost work.
 */
export async function probeRedis(url: string, origin: string): Promise<{ maxmemoryPolicy: string | null }> {
  const probe = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PING_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    const policy = (await probe.config('GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
    return { maxmemoryPolicy: policy?.[1] ?? null };
  } catch (error) {
    throw new UserError(`cannot connect to Redis at ${redactUrl(url)} (${origin}): ${(error as Error).message}`, { cause: error });
  } finally {
    probe.disconnect();
  }
}
