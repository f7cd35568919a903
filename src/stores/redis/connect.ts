import { Redis } from 'ioredis';
import { UserError } from '../../errors.js';
import { redactUrl } from '../../redact.js';

const CONNECT_TIMEOUT_MS = 3_000;

/** A Redis store's URL plus the description used in its error messages. */
export interface RedisTarget {
  url: string;
  /** Where the URL came from: "stores.sessions.url in config/retention.yaml, from $SESSIONS_URL". */
  origin: string;
}

/**
 * Runs `work` on a connection of its own, always closing it. A store opens one connection
 * per operation (a batch walks many keys, so the connect is noise) and so holds nothing
 * open between operations: the runtime has nothing to close for it. Failures surface at
 * once instead of reconnecting forever; the batch is retried by the queue.
 */
export async function withRedis<T>(target: RedisTarget, work: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(target.url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // ioredis rejects connect() with "Connection is closed."; the socket's own error says why.
  let socketError: unknown;
  redis.on('error', (error) => (socketError ??= error));
  try {
    try {
      await redis.connect();
    } catch (error) {
      throw redisConnectionError(target, socketError ?? error);
    }
    return await work(redis);
  } catch (error) {
    // Only a connection that is gone is worth a retry; a bug or a reply error is not.
    throw redis.status === 'ready' || error instanceof UserError ? error : lostConnection(target, error);
  } finally {
    redis.disconnect();
  }
}

/** Connects once: "cannot connect to Redis at redis://... (origin): reason". */
export async function pingRedis(target: RedisTarget): Promise<void> {
  await withRedis(target, (redis) => redis.ping());
}

/**
 * "cannot connect to Redis at URL (origin): reason". Carries the network error code, so a
 * batch that meets a Redis restart is retried by the queue rather than failed for good.
 */
export function redisConnectionError(target: RedisTarget, error: unknown): UserError {
  const failure = new UserError(`cannot connect to Redis at ${redactUrl(target.url)} (${target.origin}): ${(error as Error).message}`, { cause: error });
  return Object.assign(failure, { code: (error as NodeJS.ErrnoException).code ?? 'ECONNREFUSED' });
}

/**
 * A connection lost mid-operation. Carries a network error code so the executor treats
 * it as transient and the queue retries the batch (re-running a batch is harmless).
 */
function lostConnection(target: RedisTarget, error: unknown): Error {
  const wrapped = new Error(`lost the connection to Redis at ${redactUrl(target.url)}: ${(error as Error).message}`, { cause: error });
  (wrapped as NodeJS.ErrnoException).code = (error as NodeJS.ErrnoException).code ?? 'ECONNRESET';
  return wrapped;
}
