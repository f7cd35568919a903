import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addHold } from '../../src/executor/place-hold.js';
import { releaseHold } from '../../src/executor/release-hold.js';
import { subjectDigest } from '../../src/people/subject-digest.js';
import type { Config } from '../../src/policy/config.js';
import { openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { migrate } from '../../src/state/state-db.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, TEST_AUDIT_KEY, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from '../cli/cli-harness.js';

/**
 * `action: expire` gives Redis keys a TTL at the instant their period ends, and Redis
 * deletes them then by itself. A TTL set by a sweep before a legal hold must not delete the
 * held person's keys: `hold add` lifts it before the hold commits, the audit entry says
 * how many it lifted, and a sweep after the release sets it again.
 */

/** Held, and a glob that would also match OTHER's keys if it were not escaped. */
const HELD = 'alice-7*';
const OTHER = 'alice-70';
const DAY = 86_400_000;

let env: TestEnv;
/** This test's keys: outside the queue prefix (`<prefix>:`), deleted afterwards. */
let keys: string;
beforeEach(async () => {
  env = await createTestEnv();
  keys = `${env.prefix}.data`;
});
afterEach(async () => {
  await deleteKeysMatching(env.redis(), `${keys}:*`);
  await env.cleanup();
});

const STORES = { app: { kind: 'postgres', url: DATABASE_URL }, cache: { kind: 'redis', url: REDIS_URL } };

/** Fresh anchors: a sweep gives them a TTL 29 days ahead rather than deleting them. */
const expireRule = (id: string, pattern: string, extra: Record<string, unknown> = {}) => ({
  id,
  store: 'cache',
  keys: `${keys}:${pattern}`,
  anchor: 'at',
  anchorUnit: 'ms',
  retain: 'P30D',
  action: 'expire',
  ...extra,
});

const sessionKey = (id: string) => `${keys}:session:${id}:s1`;
const profileKey = (n: string) => `${keys}:profile:${n}`;

async function setUp(rules: Record<string, unknown>[], stores: Record<string, unknown> = STORES): Promise<{ config: Config; runtime: Runtime }> {
  const config = env.config(rules, { stores });
  return { config, runtime: await env.runtime(config) };
}

async function write(key: string, fields: Record<string, string> = {}): Promise<void> {
  await env.redis().hset(key, { at: String(Date.now() - DAY), ...fields });
}

/** When the key's TTL fires (ms), -1 without one, -2 gone. */
const expireTime = (key: string) => env.redis().pexpiretime(key);

async function holdAudits(): Promise<Record<string, unknown>[]> {
  const rows = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' LIKE 'hold-%' ORDER BY seq`);
  return rows.map((r) => r.entry);
}

describe('a hold on a person in an action: expire rule', () => {
  it("lifts the TTL a sweep set on the person's key, audits it, and leaves others' TTLs alone", async () => {
    const { config, runtime } = await setUp([expireRule('sessions', 'session:{subject}:*')]);
    for (const id of [HELD, OTHER]) await write(sessionKey(id));
    await env.run(config);
    const otherTtl = await expireTime(sessionKey(OTHER));
    expect(await expireTime(sessionKey(HELD))).toBeGreaterThan(Date.now());
    expect(otherTtl).toBeGreaterThan(Date.now());

    const hold = await addHold(runtime, { subject: HELD, reason: 'case 2026-17', actor: 'legal:kim' });
    expect(await expireTime(sessionKey(HELD))).toBe(-1);
    expect(hold.ttlsLifted).toBe(1);
    expect(await expireTime(sessionKey(OTHER))).toBe(otherTtl);
    expect(await holdAudits()).toEqual([
      expect.objectContaining({ event: 'hold-added', holdId: hold.id, subject: subjectDigest(Buffer.from(TEST_AUDIT_KEY), HELD), ttlsLifted: 1 }),
    ]);
  });

  it('matches a subject field exactly, in the script that lifts the TTL', async () => {
    const { config, runtime } = await setUp([expireRule('profiles', 'profile:*', { subject: 'uid' })]);
    await write(profileKey('1'), { uid: HELD });
    await write(profileKey('2'), { uid: OTHER });
    await write(profileKey('3'), { uid: `${HELD}x` });
    await env.run(config);
    const before = await Promise.all(['1', '2', '3'].map((n) => expireTime(profileKey(n))));
    expect(before.every((t) => t > Date.now())).toBe(true);

    const hold = await addHold(runtime, { subject: HELD, ruleId: 'profiles', reason: 'case 2026-17', actor: 'legal:kim' });
    expect(await Promise.all(['1', '2', '3'].map((n) => expireTime(profileKey(n))))).toEqual([-1, before[1], before[2]]);
    expect(hold.ttlsLifted).toBe(1);
  });

  it('lifts nothing in an expire rule the hold does not reach, and records nothing when it reaches none', async () => {
    // `caches` names no one: a subject hold cannot keep its keys, so their TTLs stay.
    const { config, runtime } = await setUp([expireRule('caches', 'cache:*')]);
    await write(`${keys}:cache:1`);
    await env.run(config);
    const ttl = await expireTime(`${keys}:cache:1`);
    expect(ttl).toBeGreaterThan(Date.now());
    const hold = await addHold(runtime, { subject: HELD, reason: 'case 2026-17', actor: 'legal:kim' });
    expect(hold).not.toHaveProperty('ttlsLifted');
    expect(await expireTime(`${keys}:cache:1`)).toBe(ttl);
    expect((await holdAudits())[0]).not.toHaveProperty('ttlsLifted');
  });
});

describe('a hold on a whole action: expire rule', () => {
  it("lifts every TTL of the rule's keys, and none of another rule's", async () => {
    const { config, runtime } = await setUp([expireRule('sessions', 'session:{subject}:*'), expireRule('caches', 'cache:*')]);
    for (const id of [HELD, OTHER]) await write(sessionKey(id));
    await write(`${keys}:cache:1`);
    // Keys the rule's sweeps never touch, with TTLs of the application's: not a hash, and
    // not a key naming one person (an empty segment). Their TTLs stay.
    const notItems = [`${keys}:session:${OTHER}:text`, `${keys}:session::s1`];
    await env.redis().set(notItems[0]!, 'x', 'PX', DAY);
    await write(notItems[1]!);
    await env.redis().pexpire(notItems[1]!, DAY);
    await env.run(config);
    const cacheTtl = await expireTime(`${keys}:cache:1`);
    expect(cacheTtl).toBeGreaterThan(Date.now());
    const notItemTtls = await Promise.all(notItems.map(expireTime));
    expect(notItemTtls.every((t) => t > Date.now())).toBe(true);

    const hold = await addHold(runtime, { ruleId: 'sessions', reason: 'regulator inquiry', actor: 'legal:kim' });
    expect(await expireTime(sessionKey(HELD))).toBe(-1);
    expect(await expireTime(sessionKey(OTHER))).toBe(-1);
    expect(hold.ttlsLifted).toBe(2);
    expect(await expireTime(`${keys}:cache:1`)).toBe(cacheTtl);
    expect(await Promise.all(notItems.map(expireTime))).toEqual(notItemTtls);
    expect(await holdAudits()).toEqual([expect.objectContaining({ event: 'hold-added', ruleId: 'sessions', ttlsLifted: 2 })]);
  });
});

describe('after the release', () => {
  it('the next sweep sets the TTL again (and a sweep while held does not)', async () => {
    const { config, runtime } = await setUp([expireRule('sessions', 'session:{subject}:*')]);
    await write(sessionKey(HELD));
    await env.run(config);
    const ttl = await expireTime(sessionKey(HELD));
    await addHold(runtime, { subject: HELD, reason: 'case 2026-17', actor: 'legal:kim' });
    await env.run(config);
    expect(await expireTime(sessionKey(HELD))).toBe(-1);

    await releaseHold(runtime, { subject: HELD }, 'case settled', 'legal:kim');
    await env.run(config);
    expect(await expireTime(sessionKey(HELD))).toBe(ttl);
  });
});

describe('a store that cannot be reached while the hold is added', () => {
  it('places no hold, and the error names the store', async () => {
    // Nothing listens on port 1: the redis store is down. The runtime is opened without
    // pinging the stores, as `hold add` does.
    const config = env.config([expireRule('sessions', 'session:{subject}:*')], { stores: { ...STORES, cache: { kind: 'redis', url: 'redis://127.0.0.1:1' } } });
    const runtime = await openRuntime(config, { RETENTION_HMAC_KEY: TEST_HMAC_KEY, RETENTION_AUDIT_KEY: TEST_AUDIT_KEY });
    try {
      await migrate(runtime.state);
      await expect(addHold(runtime, { subject: HELD, reason: 'case 2026-17', actor: 'legal:kim' })).rejects.toThrow(
        /^store cache \(rule sessions, action: expire\): could not lift the TTLs .* the hold was NOT placed; try again when store cache answers \(cannot connect to Redis at redis:\/\/127\.0\.0\.1:1/,
      );
    } finally {
      await runtime.close();
    }
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.holds`)).toEqual([]);
    expect(await holdAudits()).toEqual([]);
  });
});

describe('retention hold add', () => {
  it('says how many TTLs it lifted, as text and as JSON', async () => {
    const files = tempDir();
    try {
      const rules = [expireRule('sessions', 'session:{subject}:*')];
      const file = files.write('retention.yaml', env.configYaml(rules, { stores: STORES }));
      for (const id of [HELD, OTHER]) await write(sessionKey(id));
      await env.run(env.config(rules, { stores: STORES }));

      const text = await runMain(['hold', 'add', '--subject', HELD, '--reason', 'case 2026-17', '--actor', 'legal:kim', '--config', file]);
      expect(text).toMatchObject({ code: 0, stderr: '' });
      expect(text.stdout).toMatch(/; 1 TTL\(s\) lifted from its keys in action: expire rules; recorded as legal:kim$/);
      const json = await runMain(['hold', 'add', '--rule', 'sessions', '--reason', 'regulator inquiry', '--json', '--config', file]);
      expect(JSON.parse(json.stdout)).toMatchObject({ rule: 'sessions', ttlsLifted: 1 });
    } finally {
      files.remove();
    }
  });
});
