import { Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../errors.js';
import { redactText, redactUrl } from '../redact.js';

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
  // The socket's error ("connect ECONNREFUSED 127.0.0.1:6379") says why; the rejected
  // connect() only says "Connection is closed."
  let socketError: Error | undefined;
  probe.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await probe.connect();
    await probe.ping();
    const policy = (await probe.config('GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
    return { maxmemoryPolicy: policy?.[1] ?? null };
  } catch (error) {
    const reason = socketError?.message ?? (error as Error).message;
    throw new UserError(`cannot connect to Redis at ${redactUrl(url)} (${origin}): ${redactText(reason)}`, { cause: error });
  } finally {
    // disconnect() on a socket that already failed arms a 2 s timer nothing clears,
    // which would hold the process open after the error is printed.
    if (probe.status !== 'end') probe.disconnect();
  }
}
