import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import type { AnchorRange } from '../../src/policy/expiry.js';
import { RedisStore } from '../../src/stores/redis/redis-store.js';
import { DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { expired } from '../../src/stores/selection.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { redisRule, type AnchorUnit, type RedisRule } from '../../src/stores/redis/target.js';

/**
 * Issue 7, classes 6 and 11: a Redis anchor is read in the unit its rule declares, and an
 * anchor that is missing, malformed or implausible for that unit is never judged: kept,
 * and counted by `unjudged` so `plan` and `run` can say so.
 */

const FIELD = 'seen_at';
const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const NOW = Date.parse('2026-06-01T00:00:00Z');
/** P30D before NOW: everything up to and including this instant is expired. */
const CUTOFF = NOW - 30 * DAY;
const RANGES: readonly AnchorRange[] = [{ from: null, to: CUTOFF }];

let redis: Redis;
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `ra_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

const store = () => new RedisStore('cache', REDIS_URL, 'stores.cache.url in test.yaml', `${prefix}_queue`);

function rule(anchorUnit: AnchorUnit): RedisRule {
  return {
    id: 'sessions',
    hash: 'test',
    source: null,
    store: 'cache',
    kind: 'redis',
    retain: 'P30D',
    never: false,
    action: 'delete',
    subject: null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    target: { keys: `${prefix}:session:*`, anchor: FIELD, anchorUnit },
  };
}

/** Hash sessions, one per entry: name -> anchor text (or null for no anchor field). */
async function sessions(anchors: Record<string, string | null>): Promise<Record<string, string>> {
  const keys: Record<string, string> = {};
  for (const [name, anchor] of Object.entries(anchors)) {
    const key = `${prefix}:session:${name}`;
    await redis.hset(key, anchor === null ? { user: name } : { [FIELD]: anchor, user: name });
    keys[name] = key;
  }
  return keys;
}

async function sweep(unit: AnchorUnit): Promise<number> {
  return (await store().apply({ rule: rule(unit), selection: expired(RANGES), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT })).rows;
}

async function surviving(keys: Record<string, string>): Promise<string[]> {
  const alive: string[] = [];
  for (const [name, key] of Object.entries(keys)) if ((await redis.exists(key)) === 1) alive.push(name);
  return alive.sort();
}

const seconds = (ms: number) => String(Math.floor(ms / 1000));
/** The plausible window (PLAUSIBLE_FROM_MS, PLAUSIBLE_UNTIL_MS in src/stores/anchor-text.ts). */
const PLAUSIBLE_FROM_MS = Date.parse('2000-01-01T00:00:00Z');
const PLAUSIBLE_UNTIL_MS = Date.parse('2100-01-01T00:00:00Z');

describe('redis anchors are read in the declared unit', () => {
  it('never deletes an epoch-seconds anchor under a rule that says ms, and reports it implausible', async () => {
    // Written in seconds by mistake: read as milliseconds they are January 1970.
    const keys = await sessions({ 'seconds-recent': seconds(NOW - DAY), 'seconds-old': seconds(NOW - 400 * DAY), 'ms-old': String(NOW - 400 * DAY), 'ms-recent': String(NOW - DAY) });

    const deleted = await sweep('ms');
    expect(await surviving(keys)).toEqual(['ms-recent', 'seconds-old', 'seconds-recent']);
    expect(deleted).toBe(1);
    expect(await store().count(rule('ms'), expired(RANGES))).toBe(0);
    expect(await store().unjudged(rule('ms'))).toEqual({ 'implausible anchor': 2 });
  });

  it('reads epoch seconds under a rule that says s, and reports a milliseconds anchor there implausible', async () => {
    const keys = await sessions({ 'seconds-old': seconds(NOW - 400 * DAY), 'seconds-recent': seconds(NOW - DAY), 'ms-old': String(NOW - 400 * DAY) });

    const deleted = await sweep('s');
    expect(await surviving(keys)).toEqual(['ms-old', 'seconds-recent']);
    expect(deleted).toBe(1);
    expect(await store().unjudged(rule('s'))).toEqual({ 'implausible anchor': 1 });
  });

  it('judges ms anchors from 2000-01-01 up to 2100-01-01 and reports the rest implausible', async () => {
    const keys = await sessions({
      'first-plausible': String(PLAUSIBLE_FROM_MS),
      'just-before': String(PLAUSIBLE_FROM_MS - 1),
      zero: '0',
      negative: '-5',
      'last-plausible': String(PLAUSIBLE_UNTIL_MS - 1),
      'micro-seconds': String(NOW * 1000),
      huge: '9'.repeat(40),
    });

    const deleted = await sweep('ms');
    expect(await surviving(keys)).toEqual(['huge', 'just-before', 'last-plausible', 'micro-seconds', 'negative', 'zero']);
    expect(deleted).toBe(1);
    expect(await store().unjudged(rule('ms'))).toEqual({ 'implausible anchor': 5 });
  });

  it('reads ISO-8601 instants with an offset under a rule that says iso', async () => {
    const keys = await sessions({
      // CUTOFF is 2026-05-02T00:00:00Z.
      'at-cutoff': '2026-05-02T00:00:00Z',
      'at-cutoff-tokyo': '2026-05-02T09:00:00+09:00',
      'a-millisecond-later': '2026-05-02T00:00:00.001Z',
      // Below the millisecond: past the cutoff by 100 ns, so not yet expired.
      'sub-ms-later': '2026-05-02T00:00:00.0000001Z',
      'sub-ms-earlier': '2026-05-01T23:59:59.9999999Z',
      'new-york-later': '2026-05-01T20:00:01-04:00',
      old: '2025-01-01T12:00:00.5+01:00',
      // Not an instant: the zone would be a guess.
      'no-offset': '2025-01-01T00:00:00',
      'date-only': '2025-01-01',
      'space-not-t': '2025-01-01 00:00:00Z',
      'february-30': '2025-02-30T00:00:00Z',
      epoch: String(NOW - 400 * DAY),
      'year-1970': '1970-01-01T00:00:00Z',
    });

    expect(await store().count(rule('iso'), expired(RANGES))).toBe(4);
    const deleted = await sweep('iso');
    expect(await surviving(keys)).toEqual(['a-millisecond-later', 'date-only', 'epoch', 'february-30', 'new-york-later', 'no-offset', 'space-not-t', 'sub-ms-later', 'year-1970']);
    expect(deleted).toBe(4);
    expect(await store().unjudged(rule('iso'))).toEqual({ 'malformed anchor': 5, 'implausible anchor': 1 });
  });
});

describe('redis anchors that cannot be judged', () => {
  it('keeps malformed, missing and non-hash anchors and counts each kind, changing nothing', async () => {
    const old = String(NOW - 400 * DAY);
    const keys = await sessions({
      valid: old,
      'trailing-fraction': `${old}.0`,
      'leading-space': ` ${old}`,
      'trailing-space': `${old} `,
      'plus-sign': `+${old}`,
      exponent: '1.7e12',
      empty: '',
      'no-field': null,
    });
    const stringKey = `${prefix}:session:a-string`;
    await redis.set(stringKey, old);
    const listKey = `${prefix}:session:a-list`;
    await redis.rpush(listKey, old);
    keys['a-string'] = stringKey;
    keys['a-list'] = listKey;

    const expected = { 'malformed anchor': 6, 'missing anchor': 1, 'not a hash': 2 };
    // Counting changes nothing; the report is the same before and after a sweep.
    expect(await store().unjudged(rule('ms'))).toEqual(expected);
    expect(await sweep('ms')).toBe(1);
    expect((await surviving(keys)).length).toBe(Object.keys(keys).length - 1);
    expect(await redis.exists(keys.valid!)).toBe(0);
    expect(await store().unjudged(rule('ms'))).toEqual(expected);
  });

  it('reports nothing when every anchor can be judged', async () => {
    await sessions({ a: String(NOW), b: String(NOW - 400 * DAY) });
    expect(await store().unjudged(rule('ms'))).toEqual({});
  });
});

describe('anchorUnit in the config', () => {
  const yaml = (rule: string) => `
redis: ${REDIS_URL}
state: ${DATABASE_URL}
stores:
  app: { kind: postgres, url: "${DATABASE_URL}" }
  cache: { kind: redis, url: "${REDIS_URL}" }
rules:
  - ${rule}
`;
  const problems = (text: string) => {
    try {
      parseConfig(text, 'test.yaml', {}, STORE_KINDS);
      return [];
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return error.problems;
    }
  };

  it('is required for a redis rule: a unit guessed is how seconds became 1970', () => {
    expect(problems(yaml('{ id: s, store: cache, keys: "session:*", anchor: seen_at, retain: P30D, action: delete }'))).toEqual([
      { path: 'rules[0].anchorUnit', message: expect.stringContaining('needs anchorUnit') },
    ]);
  });

  it('takes ms, s or iso and nothing else, and only on redis rules', () => {
    for (const unit of ['ms', 's', 'iso']) {
      const config = parseConfig(yaml(`{ id: s, store: cache, keys: "session:*", anchor: seen_at, anchorUnit: ${unit}, retain: P30D, action: delete }`), 'test.yaml', {}, STORE_KINDS);
      expect(redisRule(config.rules[0]!).target.anchorUnit).toBe(unit);
    }
    expect(problems(yaml('{ id: s, store: cache, keys: "session:*", anchor: seen_at, anchorUnit: us, retain: P30D, action: delete }'))).toEqual([
      { path: 'rules[0].anchorUnit', message: expect.stringContaining('"us" is not an anchor unit') },
    ]);
    expect(problems(yaml('{ id: t, store: app, table: logs, anchor: created_at, anchorUnit: ms, retain: P30D, action: delete }'))).toEqual([
      { path: 'rules[0].anchorUnit', message: expect.stringContaining('for redis stores') },
    ]);
  });
});
