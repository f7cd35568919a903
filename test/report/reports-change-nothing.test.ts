import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startDashboard, type RunningDashboard } from '../../src/dashboard/start-dashboard.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * `retention status`, `retention forecast` and a dashboard page load (Bull Board's page and
 * API included) read the state database, the queue and the stores, and change none of them:
 * every row of every state table, the rule's table, and every Redis key under the queue
 * prefix (with its value) are the same before and after.
 */

const TOKEN = 'readonly-test-token-0123456789abcdef-0123456789';

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let dashboard: RunningDashboard | undefined;

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  await dashboard?.close();
  dashboard = undefined;
  dir.remove();
  await env.cleanup();
});

/** A digest of every row of every table in `schema`, table by table. */
async function schemaDigest(schema: string): Promise<Record<string, string>> {
  const tables = await env.sql<{ name: string }>(`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY 1`, [schema]);
  const digest: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await env.sql<{ d: string | null; n: string }>(`SELECT md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS d, count(*) AS n FROM "${schema}"."${name}" t`);
    digest[name] = `${row!.n}:${row!.d ?? ''}`;
  }
  return digest;
}

/** Every key under the queue prefix with its serialized value (DUMP): a write anywhere changes it. */
async function redisDigest(): Promise<Record<string, string>> {
  const redis = env.redis();
  const keys = (await redis.keys(`${env.prefix}:*`)).sort();
  const digest: Record<string, string> = {};
  for (const key of keys) {
    const dumped = await redis.dumpBuffer(key);
    digest[key] = dumped === null ? 'gone' : createHash('sha256').update(dumped).digest('hex');
  }
  return digest;
}

async function everything() {
  return { state: await schemaDigest(env.stateSchema), app: await schemaDigest(env.schema), redis: await redisDigest() };
}

describe('the reports change nothing', () => {
  it('status, forecast and a dashboard page load (with Bull Board\'s API) leave the state database and Redis as they were', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at, user_id) SELECT now() - interval '3 days', 'u-' || g FROM generate_series(1, 5) g`);
    const rules = [
      { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id', schedule: 'PT1H' },
      { id: 'logs-by-hand', table: 'logs', anchor: 'at', retain: 'P2D', action: 'delete', subject: 'user_id', schedule: 'manual' },
    ];
    const file = dir.write('retention.yaml', env.configYaml(rules));
    const config = env.config(rules);
    // Something in every table a report reads: a sweep and its audit entries, a hold, a
    // request, a scheduler and queued jobs (migrations are done by these, before the baseline).
    expect((await runMain(['run', '--rule', 'logs', '--config', file])).code).toBe(0);
    expect((await runMain(['hold', 'add', '--subject', 'u-1', '--reason', 'litigation', '--config', file])).code).toBe(0);
    expect((await runMain(['erase', '--subject', 'u-2', '--no-wait', '--config', file])).code).toBe(0);
    await env.sql(`INSERT INTO ${env.schema}.logs (at, user_id) SELECT now() - interval '3 days', 'u-' || g FROM generate_series(1, 3) g`);
    const queue = openQueue(env.redis(), env.prefix);
    await syncSchedulers(queue, config);
    await queue.close();

    const before = await everything();
    expect(Object.keys(before.state).length).toBeGreaterThan(3);
    expect(Object.keys(before.redis).length).toBeGreaterThan(0);

    expect([0, 1, 3]).toContain((await runMain(['status', '--config', file])).code);
    expect((await runMain(['status', '--json', '--config', file])).stdout).toContain('"findings"');
    expect((await runMain(['forecast', '--config', file])).code).toBe(0);
    expect((await runMain(['forecast', '--json', '--now', '2027-01-01T00:00:00Z', '--config', file])).code).toBe(0);

    dashboard = await startDashboard(await env.runtime(config), config, { host: '127.0.0.1', port: 0, token: TOKEN });
    const auth = { Authorization: `Bearer ${TOKEN}` };
    const page = await fetch(new URL('/', dashboard.url), { headers: auth });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-rule="logs"');
    for (const path of ['/queues', '/queues/api/queues', '/queues/api/queues?activeQueue=sweeps&status=waiting&page=1', '/queues/api/redis/stats']) {
      const response = await fetch(new URL(path, dashboard.url), { headers: auth });
      expect(response.status, path).toBe(200);
      await response.arrayBuffer();
    }
    // Through the cookie too (the exchange sets a cookie, in the browser, not in any database).
    const exchange = await fetch(new URL(`/?token=${TOKEN}`, dashboard.url), { redirect: 'manual' });
    expect(exchange.status).toBe(303);
    await dashboard.close();
    dashboard = undefined;

    expect(await everything()).toEqual(before);
  });
});
