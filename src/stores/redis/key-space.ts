import { Cluster, type Redis } from 'ioredis';
import { UserError } from '../../errors.js';
import { parseRedisUrl, type RedisEndpoint } from '../../policy/redis-url.js';
import { redactUrl } from '../../redact.js';
import { redisConnectionError, withRedis, type RedisTarget } from './connect.js';
import { keySlot } from './key-slot.js';

const CONNECT_TIMEOUT_MS = 3_000;

/**
 * Keys asked of SCAN per page. Each page is judged by one script call per slot group, and
 * each script blocks its server while it runs: a thousand keys is about a millisecond.
 */
export const SCAN_COUNT = 1_000;

/**
 * Where a redis store's keys live: one server, or every master of a Redis Cluster. The
 * store walks each node's own keys (SCAN on a cluster lists only the node it is sent to)
 * and runs its scripts on that node, one slot at a time (`perSlot`).
 */
export interface KeySpace {
  /** The one server, or each master of the cluster. */
  readonly nodes: readonly Redis[];
  /** True on a cluster: a script may then only touch keys of one hash slot. */
  readonly cluster: boolean;
}

/**
 * Runs `work` on a connection of its own to the store's Redis (a cluster when the URL is
 * `redis+cluster://`), always closing it; fails fast, as `withRedis` does, and on a
 * cluster turns a node lost mid-walk (or a slot moved by a resharding) into an error
 * with a network `code`, so the executor retries the batch (re-running one is harmless).
 */
export async function withKeySpace<T>(target: RedisTarget, work: (space: KeySpace) => Promise<T>): Promise<T> {
  const endpoint = parseRedisUrl(target.url);
  if (endpoint.kind === 'server') {
    return withRedis(target, async (redis) => {
      // One node of a cluster holds a third of the keys and refuses scripts over the rest:
      // sweeping it as a whole database would keep most expired keys without a word.
      // INFO may be disabled on a managed Redis: then nothing can be told, and nothing is refused.
      if (/cluster_enabled:1/.test(await redis.info('cluster').catch(() => ''))) {
        throw new UserError(
          `Redis at ${redactUrl(target.url)} (${target.origin}) is a node of a Redis Cluster: name the cluster as redis+cluster://host:port,host:port`,
        );
      }
      return work({ nodes: [redis], cluster: false });
    });
  }
  return withCluster(target, endpoint, (cluster) => work({ nodes: cluster.nodes('master'), cluster: true }));
}

/**
 * Walks SCAN MATCH to the end on every node of the space, handing each page (keys as
 * Buffers, exactly as stored) and the node that holds them to `judge`. The next page is
 * requested while the current one is judged, so the round trips overlap. A key SCAN
 * returns twice (possible while Redis resizes its table) is deleted once; a count may
 * include it twice.
 */
export async function walkKeys(space: KeySpace, match: string, judge: (node: Redis, keys: Buffer[]) => Promise<void>): Promise<void> {
  for (const node of space.nodes) {
    const scan = (cursor: string) => {
      const page = node.scanBuffer(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      page.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
      return page;
    };
    let page = scan('0');
    for (;;) {
      const [next, keys] = await page;
      const cursor = next.toString();
      const following = cursor === '0' ? null : scan(cursor);
      await judge(node, keys);
      if (!following) break;
      page = following;
    }
  }
}

/**
 * Runs `work` on the page's keys one hash slot at a time on a cluster (a Lua script there
 * may only touch keys of one slot), all at once on a single server. The groups are sent
 * together, so they travel pipelined on the node's one connection.
 */
export function perSlot<R>(space: KeySpace, keys: readonly Buffer[], work: (keys: readonly Buffer[]) => Promise<R>): Promise<R[]> {
  if (!space.cluster) return Promise.all([work(keys)]);
  const groups = new Map<number, Buffer[]>();
  for (const key of keys) {
    const slot = keySlot(key);
    const group = groups.get(slot);
    if (group) group.push(key);
    else groups.set(slot, [key]);
  }
  return Promise.all([...groups.values()].map((group) => work(group)));
}

/** Replies a cluster gives while its slots move or a node fails over: worth a retry. */
const CLUSTER_TRANSIENT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|LOADING|MASTERDOWN)\b/;

async function withCluster<T>(target: RedisTarget, endpoint: Extract<RedisEndpoint, { kind: 'cluster' }>, work: (cluster: Cluster) => Promise<T>): Promise<T> {
  const cluster = new Cluster([...endpoint.nodes], {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: () => null,
    slotsRefreshTimeout: CONNECT_TIMEOUT_MS,
    // The ready check asks one node at random; when that node is down, ioredis 5.11
    // reconnects and leaves connect() pending for good. A slot no master serves fails
    // the command that needs it instead.
    enableReadyCheck: false,
    redisOptions: {
      connectTimeout: CONNECT_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      ...(endpoint.username === undefined ? {} : { username: endpoint.username }),
      ...(endpoint.password === undefined ? {} : { password: endpoint.password }),
      ...(endpoint.tls ? { tls: {} } : {}),
    },
  });
  cluster.on('error', () => undefined);
  try {
    try {
      await connectWithin(cluster, 2 * CONNECT_TIMEOUT_MS);
    } catch (error) {
      // The cluster client only says "None of startup nodes is available"; a plain
      // connection to the first seed says why (and carries the network code).
      throw redisConnectionError(target, (await seedFailure(endpoint)) ?? error);
    }
    return await work(cluster);
  } catch (error) {
    throw error instanceof UserError || !lostNode(error) ? error : lostConnection(target, error);
  } finally {
    cluster.disconnect();
  }
}

/**
 * `cluster.connect()`, bounded: a connect that stays pending (as ioredis 5.11's does when
 * its ready check meets a dead node) must not hang a batch while its lock is renewed.
 */
export async function connectWithin(cluster: Cluster, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`no answer from the cluster within ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  try {
    await Promise.race([cluster.connect(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The socket error of a plain connection to the cluster URL's first node, or null if it answers. */
async function seedFailure(endpoint: Extract<RedisEndpoint, { kind: 'cluster' }>): Promise<unknown> {
  const { host, port } = endpoint.nodes[0]!;
  const auth =
    endpoint.password === undefined ? (endpoint.username ? `${encodeURIComponent(endpoint.username)}@` : '') : `${encodeURIComponent(endpoint.username ?? '')}:${encodeURIComponent(endpoint.password)}@`;
  const url = `${endpoint.tls ? 'rediss' : 'redis'}://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`;
  return withRedis({ url, origin: '' }, (redis) => redis.ping()).then(
    () => null,
    (error: Error) => error.cause ?? error,
  );
}

/** A node gone or a slot moved, as opposed to a bug or a script's own error. */
function lostNode(error: unknown): boolean {
  const { code, message = '' } = error as NodeJS.ErrnoException;
  return typeof code === 'string' || message === 'Connection is closed.' || CLUSTER_TRANSIENT.test(message);
}

function lostConnection(target: RedisTarget, error: unknown): Error {
  const wrapped = new Error(`lost the connection to a node of the Redis Cluster ${redactUrl(target.url)}: ${(error as Error).message}`, { cause: error });
  (wrapped as NodeJS.ErrnoException).code = (error as NodeJS.ErrnoException).code ?? 'ECONNRESET';
  return wrapped;
}
