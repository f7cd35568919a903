import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { runMain, tempDir } from './cli-harness.js';

/**
 * Issue 7, class 11: items a sweep cannot judge (a NULL anchor in SQL; a missing, malformed
 * or implausible Redis anchor) are kept, and `plan` and `run` say how many and why, so
 * that data kept past its date for that reason is seen rather than silently kept.
 */
let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  await deleteKeysMatching(env.redis(), `k_${env.id}:*`);
  dir.remove();
  await env.cleanup();
});

const YEAR_MS = 366 * 86_400_000;

describe('unjudged items', () => {
  it('are counted by reason in plan --json and run --json, and never deleted', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now() - interval '400 days'), (NULL), (NULL)`);
    const redis = env.redis();
    const old = String(Date.now() - 2 * YEAR_MS);
    await redis.hset(`k_${env.id}:s:ok`, { at: old });
    await redis.hset(`k_${env.id}:s:float`, { at: `${old}.0` });
    await redis.hset(`k_${env.id}:s:spaced`, { at: ` ${old}` });
    await redis.hset(`k_${env.id}:s:seconds`, { at: String(Math.floor((Date.now() - 2 * YEAR_MS) / 1000)) });
    await redis.hset(`k_${env.id}:s:none`, { other: '1' });
    const file = dir.write(
      'retention.yaml',
      env.configYaml(
        [
          { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' },
          { id: 'sessions', store: 'cache', keys: `k_${env.id}:s:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P1Y', action: 'delete' },
        ],
        { stores: { app: { kind: 'postgres', url: env.pool.options.connectionString }, cache: { kind: 'redis', url: REDIS_URL } } },
      ),
    );

    const plan = await runMain(['plan', '--json', '--config', file]);
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout) as { rules: { id: string; affected: number; unjudged: Record<string, number> }[] };
    expect(planned.rules.find((r) => r.id === 'logs')).toMatchObject({ affected: 1, unjudged: { 'null anchor': 2 } });
    expect(planned.rules.find((r) => r.id === 'sessions')).toMatchObject({
      affected: 1,
      unjudged: { 'malformed anchor': 2, 'implausible anchor': 1, 'missing anchor': 1 },
    });

    const run = await runMain(['run', '--all', '--json', '--config', file]);
    expect(run.code).toBe(0);
    const ran = JSON.parse(run.stdout) as { rules: { id: string; affected: number; unjudged: Record<string, number> }[] };
    expect(ran.rules.find((r) => r.id === 'logs')).toMatchObject({ affected: 1, unjudged: { 'null anchor': 2 } });
    expect(ran.rules.find((r) => r.id === 'sessions')).toMatchObject({ affected: 1, unjudged: { 'malformed anchor': 2, 'implausible anchor': 1, 'missing anchor': 1 } });
    expect(await redis.exists(`k_${env.id}:s:ok`)).toBe(0);
    for (const kept of ['float', 'spaced', 'seconds', 'none']) expect(await redis.exists(`k_${env.id}:s:${kept}`)).toBe(1);
    expect((await env.sql(`SELECT id FROM ${env.schema}.logs`)).length).toBe(2);

    const table = await runMain(['plan', '--config', file]);
    expect(table.stdout).toContain('4 (implausible anchor 1, malformed anchor 2, missing anchor 1)');
  });
});
