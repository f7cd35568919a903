import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { UserError } from '../errors.js';
import { parseRedisUrl, type RedisEndpoint } from '../policy/redis-url.js';
import { redactText, redactUrl } from '../redact.js';

const PING_TIMEOUT_MS = 3_000;

/** The queue's connection: one Redis server, or a Redis Cluster (`redis+cluster://`). */
export type QueueConnection = Redis | Cluster;

/**
 * A connection for BullMQ. Workers and queue clients wait for Redis to come back rather
 * than fail a command (`maxRetriesPerRequest: null`, as BullMQ requires for workers). On a
 * cluster every node connection gets the same options; the queue prefix is a hash tag
 * (the config requires it), so all of the queue's keys and scripts go to one slot.
 */
export function createRedis(url: string, options: RedisOptions = {}): QueueConnection {
  const endpoint = parseRedisUrl(url);
  const redisOptions: RedisOptions = { maxRetriesPerRequest: null, enableReadyCheck: true, ...options };
  if (endpoint.kind === 'server') return new Redis(url, redisOptions);
  return new Cluster([...endpoint.nodes], { redisOptions: { ...nodeOptions(endpoint), ...redisOptions } });
}

/** The credentials and TLS a cluster URL gives each node connection. */
export function nodeOptions(endpoint: Extract<RedisEndpoint, { kind: 'cluster' }>): RedisOptions {
  return {
    ...(endpoint.username === undefined ? {} : { username: endpoint.username }),
    ...(endpoint.password === undefined ? {} : { password: endpoint.password }),
    ...(endpoint.tls ? { tls: {} } : {}),
  };
}

/** What `probeRedis` found: the eviction policy, and the node it is on when it is a cluster's. */
export interface RedisProbe {
  /** The first eviction policy other than noeviction among the servers, else noeviction (null if unreadable). */
  maxmemoryPolicy: string | null;
  /** `host:port` of the cluster master that has `maxmemoryPolicy`, on a cluster. */
  node?: string;
}

/**
 * Checks Redis once, quickly, before anything is started, so an unreachable Redis is one
 * clear message (with the URL and where it came from) instead of endless reconnecting.
 * Also returns the eviction policy: evicted job keys would be lost work. On a cluster,
 * every master is asked (any of them may hold the queue's slot after a resharding), and
 * the cluster must serve every slot. A plain URL pointing at a cluster node is refused:
 * BullMQ would meet MOVED replies at run time.
 */
export async function probeRedis(url: string, origin: string): Promise<RedisProbe> {
  const endpoint = parseRedisUrl(url);
  const fail = (reason: string, cause?: unknown) =>
    new UserError(`cannot connect to Redis at ${redactUrl(url)} (${origin}): ${redactText(reason)}`, { cause });
  if (endpoint.kind === 'cluster') return probeCluster(endpoint, fail);
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
    try {
      await probe.connect();
      await probe.ping();
    } catch (error) {
      throw fail(socketError?.message ?? (error as Error).message, error);
    }
    const info = await probe.info('cluster').catch(() => '');
    if (/cluster_enabled:1/.test(info)) {
      throw new UserError(
        `Redis at ${redactUrl(url)} (${origin}) is a node of a Redis Cluster: name the cluster as redis+cluster://host:port,host:port ` +
          '(and write queuePrefix as a hash tag, e.g. "{retention}")',
      );
    }
    return { maxmemoryPolicy: await evictionPolicy(probe) };
  } finally {
    // disconnect() on a socket that already failed arms a 2 s timer nothing clears,
    // which would hold the process open after the error is printed.
    if (probe.status !== 'end') probe.disconnect();
  }
}

async function probeCluster(endpoint: Extract<RedisEndpoint, { kind: 'cluster' }>, fail: (reason: string, cause?: unknown) => UserError): Promise<RedisProbe> {
  const probe = new Cluster([...endpoint.nodes], {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: PING_TIMEOUT_MS,
    // The ready check asks one node at random; when that node is down, ioredis 5.11
    // reconnects and leaves connect() pending for good. Slot coverage is checked below instead.
    enableReadyCheck: false,
    redisOptions: { ...nodeOptions(endpoint), connectTimeout: PING_TIMEOUT_MS, maxRetriesPerRequest: 0 },
  });
  probe.on('error', () => undefined);
  try {
    try {
      await probe.connect();
    } catch (error) {
      // The cluster client only says "None of startup nodes is available" (its nodes'
      // socket errors are swallowed); a plain connection to the first seed says why.
      throw fail((await seedFailure(endpoint)) ?? (error as Error).message, error);
    }
    // An evicting master is what matters; a master that hides its config (null) only
    // when no other master evicts.
    let found: RedisProbe = { maxmemoryPolicy: 'noeviction' };
    let hidden = false;
    for (const node of probe.nodes('master')) {
      const name = `${node.options.host}:${node.options.port}`;
      let state: string;
      try {
        state = /cluster_state:(\w+)/.exec(await node.cluster('INFO'))?.[1] ?? 'unknown';
      } catch (error) {
        throw fail(`cluster node ${name}: ${(error as Error).message}`, error);
      }
      if (state !== 'ok') throw fail(`the cluster is not serving every slot (cluster_state:${state} on ${name})`);
      const policy = await evictionPolicy(node);
      if (policy === null) hidden = true;
      else if (policy !== 'noeviction' && found.maxmemoryPolicy === 'noeviction') found = { maxmemoryPolicy: policy, node: name };
    }
    return hidden && found.maxmemoryPolicy === 'noeviction' ? { maxmemoryPolicy: null } : found;
  } finally {
    probe.disconnect();
  }
}

/** Why the first seed node of a cluster URL cannot be reached ("connect ECONNREFUSED ..."), or null if it can. */
async function seedFailure(endpoint: Extract<RedisEndpoint, { kind: 'cluster' }>): Promise<string | null> {
  const seed = new Redis({
    ...nodeOptions(endpoint),
    ...endpoint.nodes[0],
    lazyConnect: true,
    connectTimeout: PING_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let socketError: Error | undefined;
  seed.on('error', (error: Error) => (socketError ??= error));
  try {
    await seed.connect();
    await seed.ping();
    return null;
  } catch (error) {
    return (socketError ?? (error as Error)).message;
  } finally {
    if (seed.status !== 'end') seed.disconnect();
  }
}

/** CONFIG GET maxmemory-policy; null when the server does not allow CONFIG (managed Redis). */
async function evictionPolicy(redis: Redis): Promise<string | null> {
  const policy = (await redis.config('GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
  return policy?.[1] ?? null;
}
