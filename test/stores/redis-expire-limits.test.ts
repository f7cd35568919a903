import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { runMain, tempDir } from '../cli/cli-harness.js';

/**
 * A TTL is a deletion Redis carries out later: an `action: expire` sweep that would give
 * more keys a TTL than the rule's limits allow is blocked before it sets any, like a
 * delete sweep over its limits (a `retain: P1D` typo for `P1Y` must not put a one-day TTL
 * on every session unconfirmed).
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

describe('action: expire and the blast-radius limits', () => {
  it('counts the TTLs a sweep would set, blocks a sweep over the limit, and sets none', async () => {
    const redis = env.redis();
    for (let i = 0; i < 5; i++) await redis.hset(`k_${env.id}:s:${i}`, { at: String(Date.now() - 3_600_000) });
    const file = dir.write(
      'retention.yaml',
      env.configYaml(
        [{ id: 'sessions', store: 'cache', keys: `k_${env.id}:s:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P1D', action: 'expire', limits: { maxRowsPerRun: 2 } }],
        { stores: { cache: { kind: 'redis', url: REDIS_URL } } },
      ),
    );
    const plan = await runMain(['plan', '--json', '--config', file]);
    expect(plan.code).toBe(0);
    const planned = JSON.parse(plan.stdout) as { rules: { id: string; affected: number; blocked?: unknown }[] };
    expect(planned.rules[0]).toMatchObject({ affected: 5, blocked: expect.anything() });

    const run = await runMain(['run', '--rule', 'sessions', '--config', file]);
    expect(run.code).toBe(3);
    for (let i = 0; i < 5; i++) expect(await redis.pttl(`k_${env.id}:s:${i}`)).toBe(-1);
  });
});
