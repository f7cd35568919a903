import type { Cluster } from 'ioredis';
import { Duration } from 'luxon';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expiredRanges } from '../../src/policy/expiry.js';
import { redisKind } from '../../src/stores/redis/kind.js';
import type { RedisRule } from '../../src/stores/redis/target.js';
import { expired } from '../../src/stores/selection.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };

let cluster: RedisCluster;
let client: Cluster;
let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeAll(async () => {
  cluster = await RedisCluster.start();
  client = cluster.client();
  await new Promise<void>((resolve) => client.once('ready', () => resolve()));
});
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

/** Keys matching `pattern` on each master. */
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

/** 300 session hashes spread over the slots (so over all three masters): every third one two years old. */
async function seedSessions(p: string): Promise<void> {
  const now = Date.now();
  await Promise.all(
    Array.from({ length: 300 }, (_, i) => client.hset(`${p}:session:${i}`, 'seen_at', String(i % 3 === 0 ? now - 730 * DAY : now - DAY))),
  );
}

const extra = (env: TestEnv) => ({
  redis: cluster.url,
  queuePrefix: `{${env.prefix}}`,
  stores: { app: { kind: 'postgres', url: env.pool.options.connectionString }, cache: { kind: 'redis', url: cluster.url } },
});

describe('a redis store on a 3-master Redis Cluster, with the queue on the same cluster', () => {
  it('plans, runs through the real queue and audits a sweep of hashes spread over every master', async () => {
    const p = `s_${env.id}`;
    await seedSessions(p);
    const spread = await perMaster(`${p}:session:*`);
    expect(spread.every((n) => n > 0)).toBe(true);
    const file = dir.write(
      'retention.yaml',
      env.configYaml([{ id: 'sessions', store: 'cache', keys: `${p}:session:*`, anchor: 'seen_at', anchorUnit: 'ms', retain: 'P1Y', action: 'delete' }], extra(env)),
    );

    const check = await runMain(['check', '--config', file]);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    const plan = await runMain(['plan', '--json', '--config', file]);
    expect(plan.code).toBe(0);
    expect((JSON.parse(plan.stdout) as { rules: { affected: number }[] }).rules[0]!.affected).toBe(100);

    const run = await runMain(['run', '--all', '--json', '--config', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as { rules: { affected: number }[] }).rules[0]!.affected).toBe(100);

    // The expired third is gone from every master; the rest are all there.
    const left = await perMaster(`${p}:session:*`);
    expect(left.reduce((a, b) => a + b, 0)).toBe(200);
    expect(left.every((n, i) => n < spread[i]!)).toBe(true);
    for (let i = 0; i < 300; i += 7) expect(await client.exists(`${p}:session:${i}`), `session ${i}`).toBe(i % 3 === 0 ? 0 : 1);
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);
  });

  it("never reads or deletes the queue's keys, even with a pattern that matches them", async () => {
    const p = `q_${env.id}`;
    await seedSessions(p);
    const queuePrefix = `{${env.prefix}}`;
    // Keys under the queue's prefix shaped like expired sessions: a broad pattern matches them.
    const old = String(Date.now() - 730 * DAY);
    await Promise.all(Array.from({ length: 5 }, (_, i) => client.hset(`${queuePrefix}:${p}:fake-job:${i}`, 'seen_at', old)));
    const config = env.config([{ id: 'broad', store: 'cache', keys: `*${p}*`, anchor: 'seen_at', anchorUnit: 'ms', retain: 'P1Y', action: 'delete' }], extra(env));
    const rule = config.rules[0] as unknown as RedisRule;
    const store = await redisKind.create('cache', { url: cluster.url }, {
      origin: (field) => `stores.cache.${field} in test.yaml`,
      queuePrefix,
      stateUrl: config.state,
      stateSchema: config.stateSchema,
      timezone: 'UTC',
    });
    const selection = expired(expiredRanges(Date.now(), Duration.fromISO(rule.retain), 'UTC'));
    expect(await store.count(rule, selection, CONTEXT)).toBe(100);
    expect(await store.total(rule)).toBe(300);
    const result = await store.apply({ rule, selection, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });
    expect(result.rows).toBe(100);
    expect((await perMaster(`${p}:session:*`)).reduce((a, b) => a + b, 0)).toBe(200);
    expect((await perMaster(`${queuePrefix}:${p}:*`)).reduce((a, b) => a + b, 0)).toBe(5);
    await store.close();
  });
});
