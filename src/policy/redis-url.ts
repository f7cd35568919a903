import { z } from 'zod';

/**
 * A Redis deployment as a config names it (`redis:` for the queue, `url:` of a redis
 * store): one server (`redis://`, `rediss://`), or the seed nodes of a Redis Cluster
 * (`redis+cluster://[user:password@]host:port,host:port,...`, `rediss+cluster://` with TLS).
 * The client discovers the other nodes from the seeds; one reachable seed is enough.
 *
 * A URL form rather than a list keeps `redis:` one string, so it can still come from one
 * environment variable (`redis: ${REDIS_URL}`).
 */
export type RedisEndpoint =
  | { kind: 'server'; url: string }
  | { kind: 'cluster'; nodes: readonly ClusterNode[]; username?: string; password?: string; tls: boolean };

export interface ClusterNode {
  host: string;
  port: number;
}

const SERVER_URL = /^rediss?:\/\//;
const CLUSTER_URL = /^(rediss?)\+cluster:\/\/([^/?#]*)\/?$/;
/** `host:port` or `[v6 address]:port`. */
const NODE = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

export const REDIS_URL_HINT = 'a redis:// or rediss:// URL, or redis+cluster://host:port,host:port for a Redis Cluster';

/** True when the URL names a Redis Cluster. */
export function isClusterUrl(url: string): boolean {
  return /^rediss?\+cluster:\/\//.test(url);
}

/** What is wrong with a Redis URL as config writes it, or undefined. */
export function redisUrlProblem(url: string): string | undefined {
  try {
    parseRedisUrl(url);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Reads a Redis URL; throws an Error naming what is wrong (never quoting a password). */
export function parseRedisUrl(url: string): RedisEndpoint {
  if (!isClusterUrl(url)) {
    if (!SERVER_URL.test(url)) throw new Error(`must be ${REDIS_URL_HINT}`);
    return { kind: 'server', url };
  }
  const match = CLUSTER_URL.exec(url);
  if (!match) throw new Error('a redis+cluster:// URL is only its nodes: redis+cluster://[user:password@]host:port,host:port (no database, path or options)');
  const [, scheme, authority] = match as unknown as [string, string, string];
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : null;
  const list = at >= 0 ? authority.slice(at + 1) : authority;
  const nodes = list.split(',').map((text) => {
    const node = NODE.exec(text);
    const port = node ? Number(node[2]) : 0;
    if (!node || port < 1 || port > 65_535) {
      throw new Error(`${JSON.stringify(text)} is not a cluster node: each node is host:port, separated by commas`);
    }
    return { host: node[1]!.replace(/^\[|\]$/g, ''), port };
  });
  const endpoint: RedisEndpoint = { kind: 'cluster', nodes, tls: scheme === 'rediss' };
  if (userinfo !== null) {
    const colon = userinfo.indexOf(':');
    const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
    if (username) endpoint.username = username;
    if (colon >= 0) endpoint.password = decode(userinfo.slice(colon + 1));
  }
  return endpoint;
}

/**
 * The queue's key prefix as BullMQ on a cluster needs it: a hash tag (`{retention}`), so
 * every key of the queue lies in one slot and its Lua scripts can run. Undefined when the
 * prefix is fine for the URL.
 */
export function queuePrefixProblem(redisUrl: string, queuePrefix: string): string | undefined {
  if (!isClusterUrl(redisUrl) || /^\{[^{}]+\}$/.test(queuePrefix)) return undefined;
  return (
    `the queue is on a Redis Cluster, where every key of a queue must be in one hash slot: ` +
    `write queuePrefix as a hash tag, e.g. "{${queuePrefix.replace(/[{}]/g, '')}}"`
  );
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new Error('the user or password of a redis+cluster:// URL is not valid percent-encoding');
  }
}

/** A Redis URL field of the config (`redis`, a redis store's `url`), validated by `parseRedisUrl`. */
export function redisUrlSchema(field: string) {
  return z
    .string({ error: `${field} is required (${REDIS_URL_HINT})` })
    .superRefine((url, ctx) => {
      const problem = redisUrlProblem(url);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}
