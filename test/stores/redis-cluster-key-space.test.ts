import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { isTransient } from '../../src/executor/classify-error.js';
import { probeRedis } from '../../src/queue/redis-connection.js';
import type { AnchorRange } from '../../src/policy/expiry.js';
import { HashShape } from '../../src/stores/redis/hash-shape.js';
import { perSlot, walkKeys, withKeySpace } from '../../src/stores/redis/key-space.js';
import { keySlot } from '../../src/stores/redis/key-slot.js';
import { addTally, emptyTally } from '../../src/stores/redis/redis-shape.js';
import { RedisCluster } from '../helpers/redis-cluster.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 5, 1);
/** Everything anchored before 30 days ago is expired. */
const RANGES: AnchorRange[] = [{ from: null, to: NOW - 30 * DAY }];

let cluster: RedisCluster;
let client: Cluster;
beforeAll(async () => {
  cluster = await RedisCluster.start();
  client = cluster.client();
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
});
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

const target = () => ({ url: cluster.url, origin: 'stores.cache.url in test.yaml' });

/** Keys matching `pattern` per master. */
async function perMaster(pattern: string): Promise<number[]> {
  return Promise.all(
    client.nodes('master').map(async (node) => {
      let cursor = '0';
      let n = 0;
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        n += keys.length;
        cursor = next;
      } while (cursor !== '0');
      return n;
    }),
  );
}

describe('hash slots', () => {
  it('are computed as the cluster computes them, hash tags and bytes included', async () => {
    const keys = ['123456789', 'session:1', '{user:1}:a', '{}x', 'a{b}c', '{{a}}', 'x}{y}', 'é:ü', `k\u0000{z}`];
    for (let i = 0; i < 200; i++) keys.push(randomBytes(8).toString('hex') + (i % 3 === 0 ? `{${i}}` : ''));
    for (const key of keys) {
      expect(keySlot(Buffer.from(key)), key).toBe(await client.cluster('KEYSLOT', key));
    }
  });
});

describe('a redis store key space on a 3-master cluster', () => {
  it('walks every master and sweeps expired hashes spread over all three, keeping the rest and the queue keys', async () => {
    const p = `ks_${randomBytes(4).toString('hex')}`;
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      const at = i % 3 === 0 ? NOW - 400 * DAY : NOW - DAY; // 100 expired, 200 kept
      writes.push(client.hset(`${p}:session:${i}`, 'seen_at', String(at)));
    }
    // The queue's own keys (hash-tagged prefix, one slot) would match a broad pattern.
    for (let i = 0; i < 5; i++) writes.push(client.hset(`{${p}_q}:retention-sweeps:${i}`, 'seen_at', String(NOW - 400 * DAY)));
    await Promise.all(writes);
    const spread = await perMaster(`${p}:session:*`);
    expect(spread.every((n) => n > 0)).toBe(true);

    const shape = new HashShape('seen_at', 'ms');
    const queueKeys = Buffer.from(`{${p}_q}:`);
    const ours = (keys: Buffer[]) => keys.filter((k) => !k.subarray(0, queueKeys.length).equals(queueKeys));
    const sweep = (dry: boolean) =>
      withKeySpace(target(), async (space) => {
        expect(space.nodes).toHaveLength(3);
        const tally = emptyTally();
        await walkKeys(space, `*${p}*`, async (_node, page) => {
          const tallies = await perSlot(space, ours(page), (keys) => (dry ? shape.count(_node, keys, RANGES) : shape.apply(_node, keys, RANGES)));
          tallies.forEach((t) => addTally(tally, t));
        });
        return tally;
      });

    expect((await sweep(true)).items).toBe(100);
    expect(await perMaster(`${p}:session:*`)).toEqual(spread);
    expect((await sweep(false)).items).toBe(100);

    const left = await perMaster(`${p}:session:*`);
    expect(left.reduce((a, b) => a + b, 0)).toBe(200);
    for (let i = 0; i < 300; i++) expect(await client.exists(`${p}:session:${i}`), `session ${i}`).toBe(i % 3 === 0 ? 0 : 1);
    expect((await perMaster(`{${p}_q}:*`)).reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('without slot groups a page would fail with CROSSSLOT: the grouping is what makes scripts run', async () => {
    const p = `xs_${randomBytes(4).toString('hex')}`;
    // Two keys on the same master but in different slots.
    const node = client.nodes('master')[0]!;
    const names: string[] = [];
    for (let i = 0; names.length < 2 && i < 10_000; i++) {
      const key = `${p}:${i}`;
      const owner = client.slots[keySlot(Buffer.from(key))]?.[0];
      if (owner === `${node.options.host}:${node.options.port}` && !names.some((k) => keySlot(Buffer.from(k)) === keySlot(Buffer.from(key)))) names.push(key);
    }
    await Promise.all(names.map((k) => client.hset(k, 'seen_at', String(NOW - 400 * DAY))));
    const shape = new HashShape('seen_at', 'ms');
    const keys = names.map((k) => Buffer.from(k));
    await expect(shape.apply(node, keys, RANGES)).rejects.toThrow(/CROSSSLOT/);
    const removed = await withKeySpace(target(), async (space) => {
      const tallies = await perSlot(space, keys, (group) => shape.apply(space.nodes.find((n) => n.options.port === node.options.port)!, group, RANGES));
      return tallies.reduce((sum, t) => sum + t.items, 0);
    });
    expect(removed).toBe(2);
  });

  it('refuses a plain redis:// URL pointing at one node of the cluster, which holds only some of the keys', async () => {
    const error = await withKeySpace({ url: `redis://127.0.0.1:${cluster.ports[0]}`, origin: 'stores.cache.url in test.yaml' }, async () => 'walked').catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/\(stores\.cache\.url in test\.yaml\) is a node of a Redis Cluster: name the cluster as redis\+cluster:\/\//);
  });

  // Last in the file: it leaves the cluster with a master down.
  it('a master lost mid-sweep fails the walk with a network code, so the batch is retried', async () => {
    await cluster.killNode(2);
    // Repeated: the client picks nodes at random, and a connect that met the dead node
    // once hung for good (ioredis's ready check); every attempt must end, and quickly.
    for (let attempt = 0; attempt < 10; attempt++) {
      const started = Date.now();
      const error = await withKeySpace(target(), (space) => walkKeys(space, 'anything:*', async () => undefined)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).message).toMatch(/^lost the connection to a node of the Redis Cluster redis\+cluster:\/\//);
      expect(isTransient(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    }
    // `check`, `run` and the worker refuse to start, naming the node.
    await expect(probeRedis(cluster.url, 'redis in test.yaml')).rejects.toThrow(
      new RegExp(`cluster node 127\\.0\\.0\\.1:${cluster.ports[2]}: Connection is closed`),
    );
  });

  it('an unreachable cluster fails with a network code, so the batch is retried', async () => {
    const error = await withKeySpace({ url: 'redis+cluster://127.0.0.1:1,127.0.0.1:2', origin: 'test' }, async () => 0).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^cannot connect to Redis at redis\+cluster:\/\/127\.0\.0\.1:1,127\.0\.0\.1:2 \(test\): connect ECONNREFUSED/);
    expect((error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
    expect(isTransient(error)).toBe(true);
  });
});
