import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, UserError } from '../../src/errors.js';
import { createRedis, probeRedis } from '../../src/queue/redis-connection.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import { schedulerId } from '../../src/queue/queue-names.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

let cluster: RedisCluster;
let env: TestEnv;
beforeAll(async () => {
  cluster = await RedisCluster.start();
});
afterAll(async () => {
  await cluster?.stop();
});
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/** Keys matching `pattern` on each master, by `host:port`. */
async function keysPerMaster(pattern: string): Promise<Map<string, number>> {
  const client = cluster.client();
  try {
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    const counts = new Map<string, number>();
    for (const node of client.nodes('master')) {
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        n += keys.length;
        cursor = next;
      } while (cursor !== '0');
      counts.set(`${node.options.host}:${node.options.port}`, n);
    }
    return counts;
  } finally {
    client.disconnect();
  }
}

describe('the queue on a 3-master Redis Cluster', () => {
  it('runs a sweep through BullMQ end to end, with every queue key in the one slot of the hash-tagged prefix', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '400 days' FROM generate_series(1, 250)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '10 days' FROM generate_series(1, 40)`);
    const prefix = `{${env.prefix}}`;
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', batchSize: 100 }], {
      redis: cluster.url,
      queuePrefix: prefix,
    });
    await probeRedis(config.redis, 'test');
    const runtime = await env.runtime(config);
    const connection = createRedis(config.redis);
    connection.on('error', () => undefined);
    try {
      const [result] = (await runSweeps(runtime, config.rules, { connection, dryRun: false, actor: 'test', concurrency: 2 })).swept;
      expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 250 });
    } finally {
      connection.disconnect();
    }
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${env.schema}.logs`)).toEqual([{ n: 40 }]);
    const batches = await env.sql<{ entry: { event: string; rows?: number } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' ORDER BY seq`,
    );
    expect(batches.reduce((sum, b) => sum + (b.entry.rows ?? 0), 0)).toBe(250);

    // BullMQ's keys exist, all on one master: the hash tag put them in one slot.
    const perMaster = [...(await keysPerMaster(`${prefix}:*`)).values()];
    expect(perMaster).toHaveLength(3);
    expect(perMaster.filter((n) => n > 0)).toHaveLength(1);
  });

  it("keeps the worker's schedulers on the cluster: added, listed and removed as the config changes", async () => {
    const extra = { redis: cluster.url, queuePrefix: `{${env.prefix}}` };
    const rules = [
      { id: 'hourly', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' },
      { id: 'nightly', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: '0 3 * * *' },
    ];
    const connection = createRedis(cluster.url);
    connection.on('error', () => undefined);
    const queue = openQueue(connection, extra.queuePrefix);
    try {
      expect((await syncSchedulers(queue, env.config(rules, extra))).active.sort()).toEqual([schedulerId('hourly'), schedulerId('nightly')]);
      expect(await queue.getJobSchedulersCount()).toBe(2);
      const next = await syncSchedulers(queue, env.config(rules.slice(0, 1), extra));
      expect(next.removed).toEqual([schedulerId('nightly')]);
      expect(await queue.getJobSchedulersCount()).toBe(1);
    } finally {
      await queue.close();
      connection.disconnect();
    }
  });

  it('refuses a cluster URL with a queue prefix that is not a hash tag, at queuePrefix, naming the fix', () => {
    let error: unknown;
    try {
      env.config([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' }], { redis: cluster.url, queuePrefix: 'retention' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([{ path: 'queuePrefix', message: expect.stringContaining('"{retention}"') }]);
  });

  it('refuses a malformed cluster URL at redis, without quoting its password', () => {
    let error: unknown;
    try {
      env.config([], { redis: 'redis+cluster://app:s3cret@127.0.0.1:7001,127.0.0.1', queuePrefix: '{r}' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual([{ path: 'redis', message: expect.stringContaining('"127.0.0.1" is not a cluster node') }]);
    expect(JSON.stringify(problems)).not.toContain('s3cret');
  });

  it('checks the eviction policy of every master, naming the one that evicts', async () => {
    const client = cluster.client();
    await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    const last = client.nodes('master').at(-1)!;
    try {
      expect(await probeRedis(cluster.url, 'test')).toEqual({ maxmemoryPolicy: 'noeviction' });
      await last.config('SET', 'maxmemory-policy', 'allkeys-lru');
      expect(await probeRedis(cluster.url, 'test')).toEqual({ maxmemoryPolicy: 'allkeys-lru', node: `${last.options.host}:${last.options.port}` });
    } finally {
      await last.config('SET', 'maxmemory-policy', 'noeviction');
      client.disconnect();
    }
  });

  it('refuses a plain redis:// URL that points at a cluster node, naming the cluster form', async () => {
    const error = await probeRedis(`redis://127.0.0.1:${cluster.ports[0]}`, 'redis in test.yaml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/is a node of a Redis Cluster: name the cluster as redis\+cluster:\/\//);
  });

  it('reports an unreachable cluster as one clear error naming the URL and the cause', async () => {
    const error = await probeRedis('redis+cluster://127.0.0.1:1,127.0.0.1:2', 'redis in test.yaml').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/^cannot connect to Redis at redis\+cluster:\/\/127\.0\.0\.1:1,127\.0\.0\.1:2 \(redis in test\.yaml\): .*ECONNREFUSED/);
    const secret = await probeRedis('redis+cluster://:s3cret@127.0.0.1:1,127.0.0.1:2', 'redis in test.yaml').catch((e: unknown) => e);
    expect((secret as Error).message).toContain('redis+cluster://:***@127.0.0.1:1,127.0.0.1:2');
    expect((secret as Error).message).not.toContain('s3cret');
  });
});
