import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, UserError } from '../../src/errors.js';
import { loadConfig } from '../../src/policy/load-config.js';
import { SUBJECT_PLACEHOLDER } from '../../src/policy/rule.js';
import { deleteIfUnchanged } from '../../src/stores/redis/delete-if-unchanged.js';
import { KeySubject } from '../../src/stores/redis/key-subject.js';
import { RedisStore, SCAN_COUNT } from '../../src/stores/redis/redis-store.js';
import { SortedSetShape } from '../../src/stores/redis/sorted-set-shape.js';
import { StreamShape } from '../../src/stores/redis/stream-shape.js';
import type { RedisRule, RedisTarget } from '../../src/stores/redis/target.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { exceptHeld, expired, ofSubject, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { RedisCluster } from '../helpers/redis-cluster.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';

/**
 * Issue 12 on the Redis store: a rule names its person by a `{subject}` segment of its
 * keys or by a hash field; an erasure takes exactly that person's keys (an id full of glob
 * characters names only itself), and a sweep never changes a held person's keys.
 */

const FIELD = 'seen_at';
const DAY = 86_400_000;
const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const OLD = String(Date.now() - 400 * DAY);
const FRESH = String(Date.now() - DAY);
/** Everything older than 30 days. */
const SWEEP_RANGES = [{ from: null, to: Date.now() - 30 * DAY }];
const SWEEP = expired(SWEEP_RANGES);
/** Ids that would widen a glob if they were not escaped, and prefixes of one another. */
const TRICKY = ['u1', 'u10', 'u*', 'u?', 'u[1]', '[u]1', 'u\\', 'u\\*', 'u^1', '[^u]1', 'ü'];

let redis: Redis;
/** Every key of a test starts with its own random prefix, deleted afterwards. */
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  prefix = `rsub_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  await deleteKeysMatching(redis, `${prefix}:*`);
  await deleteKeysMatching(redis, `${prefix}_queue:*`);
  redis.disconnect();
});

const store = (url = REDIS_URL) => new RedisStore('cache', url, 'stores.cache.url in test.yaml', `${prefix}_queue`);

function rule(target: Partial<RedisTarget>, fields: Partial<RedisRule> = {}): RedisRule {
  return {
    id: 'sessions',
    hash: 'test',
    source: null,
    store: 'cache',
    kind: 'redis',
    retain: 'P30D',
    never: false,
    action: 'delete',
    subject: target.keys?.includes(SUBJECT_PLACEHOLDER) ? SUBJECT_PLACEHOLDER : null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    target: { keys: `${prefix}:session:${SUBJECT_PLACEHOLDER}:*`, anchor: FIELD, anchorUnit: 'ms', ...target },
    ...fields,
  };
}

function apply(r: RedisRule, selection: Selection, dryRun = false, url = REDIS_URL): Promise<BatchResult> {
  return store(url).apply({ rule: r, selection, keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });
}

/** Which of `keys` still exist. */
async function existing(keys: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const key of keys) if ((await redis.exists(key)) === 1) found.push(key);
  return found;
}

describe('erasing one person through a {subject} placeholder', () => {
  const keyOf = (id: string, n: string) => `${prefix}:session:${id}:${n}`;

  it('takes exactly the keys whose segment is the id, whatever glob characters it holds, and never a longer id', async () => {
    const keys = TRICKY.flatMap((id) => [keyOf(id, 'a'), keyOf(id, 'b')]);
    // Fresh anchors: an erasure takes the person's keys whatever their age.
    for (const key of keys) await redis.hset(key, FIELD, FRESH);
    // Not one segment, so no one's: `session:u1` lacks the rest, `session:u1x:...` is another id.
    const others = [`${prefix}:session:u1`, keyOf('u1x', 'a'), keyOf('xu1', 'a')];
    for (const key of others) await redis.hset(key, FIELD, FRESH);

    let left = [...keys];
    for (const id of TRICKY) {
      const r = rule({});
      expect(await store().count(r, ofSubject(id)), id).toBe(2);
      expect((await apply(r, ofSubject(id), true)).rows, `${id} dry`).toBe(2);
      expect(await existing(keys), `${id}: a dry run changes nothing`).toEqual(left);
      expect(await apply(r, ofSubject(id)), id).toEqual({ rows: 2 });
      left = left.filter((key) => key !== keyOf(id, 'a') && key !== keyOf(id, 'b'));
      expect(await existing(keys), `after erasing ${JSON.stringify(id)}`).toEqual(left);
    }
    expect(await existing(others)).toEqual(others);
  });

  it('escapes the id in the SCAN pattern itself, so the glob Redis runs names only the id', async () => {
    const placeholder = KeySubject.of(`${prefix}:session:${SUBJECT_PLACEHOLDER}:*`)!;
    for (const id of TRICKY) await redis.set(keyOf(id, 'x'), '1');
    for (const id of TRICKY) {
      // Every page: one page of a SCAN covers only part of a big keyspace (other tests' keys).
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', placeholder.matchFor(id), 'COUNT', 100_000);
        found.push(...keys);
        cursor = next;
      } while (cursor !== '0');
      expect(found, id).toEqual([keyOf(id, 'x')]);
    }
  });

  it('deletes whole sorted sets and streams of the person, every member and entry, recent or not', async () => {
    const now = Date.now();
    await redis.zadd(`${prefix}:logins:u1`, now, 'today', now - 400 * DAY, 'last-year');
    await redis.zadd(`${prefix}:logins:u10`, now, 'today');
    await redis.xadd(`${prefix}:events:u1`, '*', 'kind', 'login');
    await redis.xadd(`${prefix}:events:u1`, '*', 'kind', 'logout');
    await redis.xadd(`${prefix}:events:u10`, '*', 'kind', 'login');
    // A key of another type is not the rule's item: it stays.
    await redis.set(`${prefix}:logins:u1x`, 'string');
    const zset = rule({ keys: `${prefix}:logins:${SUBJECT_PLACEHOLDER}`, anchor: 'score', shape: 'zset' });
    const stream = rule({ keys: `${prefix}:events:${SUBJECT_PLACEHOLDER}`, anchor: 'stream-id', shape: 'stream' });
    expect(await store().count(zset, ofSubject('u1'))).toBe(2);
    expect(await apply(zset, ofSubject('u1'))).toEqual({ rows: 2 });
    expect(await apply(stream, ofSubject('u1'))).toEqual({ rows: 2 });
    expect(await existing([`${prefix}:logins:u1`, `${prefix}:logins:u10`, `${prefix}:events:u1`, `${prefix}:events:u10`, `${prefix}:logins:u1x`])).toEqual([
      `${prefix}:logins:u10`,
      `${prefix}:events:u10`,
      `${prefix}:logins:u1x`,
    ]);
  });

  it('deletes, never expires, the keys of an expire rule: an erasure is immediate', async () => {
    await redis.hset(keyOf('u1', 'a'), FIELD, FRESH);
    expect(await apply(rule({}, { action: 'expire' }), ofSubject('u1'))).toEqual({ rows: 1 });
    expect(await redis.exists(keyOf('u1', 'a'))).toBe(0);
  });

  it('refuses an id holding ":" or an empty one, naming the rule, and deletes nothing', async () => {
    // `u1:a` would otherwise be read as the keys of u1 whose rest starts with `a`.
    await redis.hset(keyOf('u1', 'a'), FIELD, FRESH);
    for (const id of ['u1:a', '']) {
      const refused = await store()
        .count(rule({}), ofSubject(id))
        .catch((e: unknown) => e);
      expect(refused, JSON.stringify(id)).toBeInstanceOf(UserError);
      expect((refused as Error).message).toMatch(/^rule sessions names the person by one segment of its keys .* nothing was erased through it$/);
      await expect(apply(rule({}), ofSubject(id))).rejects.toThrow(/rule sessions/);
      await expect(store().partition(rule({}), ofSubject(id))).rejects.toThrow(/rule sessions/);
    }
    expect(await redis.exists(keyOf('u1', 'a'))).toBe(1);
  });

  it('selects nothing for a subject that is itself held', async () => {
    await redis.hset(keyOf('u1', 'a'), FIELD, OLD);
    const held = exceptHeld(ofSubject('u1'), ['u1']);
    expect(await store().count(rule({}), held)).toBe(0);
    expect(await apply(rule({}), held)).toEqual({ rows: 0 });
    expect(await redis.exists(keyOf('u1', 'a'))).toBe(1);
  });

  it('never reads or deletes keys under the queue prefix, whatever the id', async () => {
    const queueKey = `${prefix}_queue:u1`;
    await redis.hset(queueKey, FIELD, OLD);
    // `<prefix>_queue:u1` matches this pattern.
    const broad = rule({ keys: `${prefix}*:${SUBJECT_PLACEHOLDER}` });
    expect(await apply(broad, ofSubject('u1'))).toEqual({ rows: 0 });
    expect(await redis.exists(queueKey)).toBe(1);
  });
});

describe('erasing one person through a hash field (subject: FIELD)', () => {
  const byField = (fields: Partial<RedisRule> = {}) => rule({ keys: `${prefix}:sess:*` }, { subject: 'user_id', ...fields });

  it('takes exactly the hashes whose field holds the id, whatever their age, and nothing else', async () => {
    const keys: string[] = [];
    for (const [i, id] of TRICKY.entries()) {
      keys.push(`${prefix}:sess:${i}`);
      await redis.hset(`${prefix}:sess:${i}`, { user_id: id, [FIELD]: i % 2 === 0 ? OLD : FRESH });
    }
    await redis.hset(`${prefix}:sess:no-field`, FIELD, OLD);
    await redis.set(`${prefix}:sess:string`, 'u1');
    await redis.hset(`${prefix}:sess:padded`, { user_id: ' u1', [FIELD]: OLD });
    await redis.hset(`${prefix}:sess:u1-again`, { user_id: 'u1', [FIELD]: FRESH });

    expect(await store().count(byField(), ofSubject('u1'))).toBe(2);
    expect(await apply(byField(), ofSubject('u1'))).toEqual({ rows: 2 });
    expect(await existing([`${prefix}:sess:0`, `${prefix}:sess:u1-again`])).toEqual([]);
    for (const [i, id] of TRICKY.entries()) {
      if (id === 'u1') continue;
      expect(await redis.exists(`${prefix}:sess:${i}`), id).toBe(1);
      expect(await apply(byField(), ofSubject(id)), id).toEqual({ rows: 1 });
      expect(await redis.exists(`${prefix}:sess:${i}`), id).toBe(0);
    }
    expect(await existing([`${prefix}:sess:no-field`, `${prefix}:sess:string`, `${prefix}:sess:padded`])).toHaveLength(3);
  });

  it('reads the field in the script that deletes: a key rewritten for someone else in between stays', async () => {
    // The expire rule's erasure deletes too.
    await redis.hset(`${prefix}:sess:a`, { user_id: 'u1', [FIELD]: FRESH });
    expect(await store().count(byField({ action: 'expire' }), ofSubject('u1'))).toBe(1);
    await redis.hset(`${prefix}:sess:a`, 'user_id', 'u2');
    expect(await apply(byField({ action: 'expire' }), ofSubject('u1'))).toEqual({ rows: 0 });
    expect(await redis.exists(`${prefix}:sess:a`)).toBe(1);
  });
});

describe('a sweep never changes the keys of a held person', () => {
  const sessions = async (keyOf: (id: string) => string, fields: (id: string) => Record<string, string> = () => ({})) => {
    for (const id of ['u1', 'u10', 'u*']) await redis.hset(keyOf(id), { [FIELD]: OLD, ...fields(id) });
  };

  it('keeps the expired keys of a held {subject} segment, counts them as held, and deletes the rest', async () => {
    const keyOf = (id: string) => `${prefix}:session:${id}:a`;
    await sessions(keyOf);
    // Held: `u*` and `u1` exactly; `u10` is not held, however much `u1` or `u*` look like it.
    const selection = exceptHeld(SWEEP, ['u1', 'u*', 'id:with:colons']);
    expect(await store().count(rule({}), selection)).toBe(1);
    expect(await apply(rule({}), selection, true)).toEqual({ rows: 1, held: 2 });
    expect(await apply(rule({}), selection)).toEqual({ rows: 1, held: 2 });
    expect(await existing(['u1', 'u10', 'u*'].map(keyOf))).toEqual([keyOf('u1'), keyOf('u*')]);
    // Released: the next sweep takes them.
    expect(await apply(rule({}), SWEEP)).toEqual({ rows: 2 });
  });

  it('keeps the expired keys whose subject field holds a held id, deciding in the script that deletes', async () => {
    const keyOf = (id: string) => `${prefix}:sess:${id}`;
    await sessions(keyOf, (id) => ({ user_id: id }));
    const r = rule({ keys: `${prefix}:sess:*` }, { subject: 'user_id' });
    const selection = exceptHeld(SWEEP, ['u1', 'u*']);
    expect(await store().count(r, selection)).toBe(1);
    expect(await apply(r, selection, true)).toEqual({ rows: 1, held: 2 });
    expect(await apply(r, selection)).toEqual({ rows: 1, held: 2 });
    expect(await existing(['u1', 'u10', 'u*'].map(keyOf))).toEqual([keyOf('u1'), keyOf('u*')]);
  });

  it('decides at the change: a key judged unheld whose field names a held person by then stays', async () => {
    await redis.hset(`${prefix}:sess:a`, { user_id: 'u2', [FIELD]: OLD });
    const judged = [{ key: Buffer.from(`${prefix}:sess:a`), anchor: OLD }];
    // Between the page's judgement and its delete, the key is handed to a held person.
    await redis.hset(`${prefix}:sess:a`, 'user_id', 'u1');
    expect(await deleteIfUnchanged(redis, judged, FIELD, { field: 'user_id', held: ['u1'] })).toEqual({ changed: 0, held: 1 });
    expect(await redis.exists(`${prefix}:sess:a`)).toBe(1);
  });

  it('keeps every expired member of a held person\'s sorted set and counts the members as held', async () => {
    const now = Date.now();
    for (const id of ['u1', 'u10']) await redis.zadd(`${prefix}:logins:${id}`, now - 400 * DAY, 'old-1', now - 300 * DAY, 'old-2', now, 'today');
    const zset = rule({ keys: `${prefix}:logins:${SUBJECT_PLACEHOLDER}`, anchor: 'score', shape: 'zset' });
    const selection = exceptHeld(SWEEP, ['u1']);
    expect(await store().count(zset, selection)).toBe(2);
    expect(await apply(zset, selection)).toEqual({ rows: 2, held: 2 });
    expect(await redis.zcard(`${prefix}:logins:u1`)).toBe(3);
    expect(await redis.zrange(`${prefix}:logins:u10`, 0, -1)).toEqual(['today']);
  });

  it('gives a held person\'s keys no TTL and deletes none of them under an expire rule, by segment or by field', async () => {
    const recent = String(Date.now() - 10 * DAY); // due in 20 days: would get a TTL
    const bySegment = rule({}, { action: 'expire' });
    const byField = rule({ keys: `${prefix}:sess:*` }, { action: 'expire', subject: 'user_id' });
    for (const id of ['u1', 'u2']) {
      await redis.hset(`${prefix}:session:${id}:old`, FIELD, OLD);
      await redis.hset(`${prefix}:session:${id}:recent`, FIELD, recent);
      await redis.hset(`${prefix}:sess:${id}-old`, { user_id: id, [FIELD]: OLD });
      await redis.hset(`${prefix}:sess:${id}-recent`, { user_id: id, [FIELD]: recent });
    }
    for (const r of [bySegment, byField]) {
      const selection = exceptHeld(SWEEP, ['u1']);
      // One deletion and one TTL for u2; the same held for u1.
      expect(await store().count(r, selection), r.target.keys).toBe(2);
      expect(await apply(r, selection, true), r.target.keys).toEqual({ rows: 1, ttls: 1, held: 2 });
      expect(await apply(r, selection), r.target.keys).toEqual({ rows: 1, ttls: 1, held: 2 });
    }
    for (const key of [`${prefix}:session:u1:old`, `${prefix}:session:u1:recent`, `${prefix}:sess:u1-old`, `${prefix}:sess:u1-recent`]) {
      expect(await redis.pttl(key), key).toBe(-1);
    }
    for (const key of [`${prefix}:session:u2:recent`, `${prefix}:sess:u2-recent`]) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    expect(await existing([`${prefix}:session:u2:old`, `${prefix}:sess:u2-old`])).toEqual([]);
  });

  it('a sorted set or stream shape refuses holds by field rather than ignore them', async () => {
    const hold = { field: 'user_id', held: ['u1'] };
    await expect(new SortedSetShape('ms').apply(redis, [], SWEEP_RANGES, hold)).rejects.toThrow(/no field naming the person/);
    await expect(new StreamShape().count(redis, [], SWEEP_RANGES, hold)).rejects.toThrow(/no field naming the person/);
  });

  it('refuses held subjects on a rule that names no one, rather than ignore the hold', async () => {
    const r = rule({ keys: `${prefix}:sess:*` });
    expect(r.subject).toBeNull();
    await expect(apply(r, exceptHeld(SWEEP, ['u1']))).rejects.toThrow(/held subjects is not supported/);
    await expect(apply(r, ofSubject('u1'))).rejects.toThrow(/not supported/);
  });
});

describe('a sweep of a {subject} rule', () => {
  it('covers only keys whose placeholder part is one segment, and reports the others as unjudged', async () => {
    const r = rule({ keys: `${prefix}:session:${SUBJECT_PLACEHOLDER}` });
    const covered = `${prefix}:session:u1`;
    const notOneSegment = [`${prefix}:session:a:b`, `${prefix}:session:`];
    for (const key of [covered, ...notOneSegment]) await redis.hset(key, FIELD, OLD);
    expect(await store().unjudged(r)).toEqual({ 'no subject segment': 2 });
    expect(await store().total(r)).toBe(1);
    expect(await apply(r, SWEEP)).toEqual({ rows: 1 });
    expect(await existing([covered, ...notOneSegment])).toEqual(notOneSegment);
  });
});

describe('check of a {subject} rule against the live store', () => {
  it('judges the pattern by what a sweep scans and names it as written', async () => {
    const everything = await store().inspect(rule({ keys: SUBJECT_PLACEHOLDER }), 'rules[0]');
    expect(everything.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: "\{subject\}" matches every key/)]);
    const queue = await store().inspect(rule({ keys: `${SUBJECT_PLACEHOLDER}:x` }), 'rules[0]');
    expect(queue.map((p) => `${p.path}: ${p.message}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: "\{subject\}:x" can match the queue's own keys/)]);
    expect(await store().inspect(rule({}), 'rules[0]')).toEqual([]);
  });
});

describe('scanSubjects', () => {
  async function collect(pages: AsyncIterable<readonly string[]>): Promise<string[]> {
    const ids: string[] = [];
    for await (const page of pages) ids.push(...page);
    return ids.sort();
  }

  it('lists the raw ids the keys carry in their {subject} segment, repeats included, and nothing else', async () => {
    for (const key of ['u1:a', 'u1:b', 'u10:a', 'ü:a', 'u*:a']) await redis.hset(`${prefix}:session:${key}`, FIELD, OLD);
    await redis.hset(`${prefix}:session:no-rest`, FIELD, OLD);
    await redis.hset(`${prefix}_queue:session:q`, FIELD, OLD);
    expect(await collect(store().scanSubjects(rule({})))).toEqual(['u*', 'u1', 'u1', 'u10', 'ü'].sort());
    // Matches the queue's key too, which is never read.
    const broad = rule({ keys: `${prefix}*:session:${SUBJECT_PLACEHOLDER}` });
    expect(await collect(store().scanSubjects(broad))).toEqual(['no-rest']);
  });

  it('lists the values of the subject field, skipping keys without it', async () => {
    await redis.hset(`${prefix}:sess:1`, { user_id: 'u1', [FIELD]: OLD });
    await redis.hset(`${prefix}:sess:2`, { user_id: 'ü', [FIELD]: OLD });
    await redis.hset(`${prefix}:sess:3`, FIELD, OLD);
    await redis.set(`${prefix}:sess:4`, 'u4');
    const r = rule({ keys: `${prefix}:sess:*` }, { subject: 'user_id' });
    expect(await collect(store().scanSubjects(r))).toEqual(['u1', 'ü'].sort());
  });

  it('hands out one SCAN page at a time, and a reader may stop after the first', async () => {
    const n = 3 * SCAN_COUNT;
    const pipeline = redis.pipeline();
    for (let i = 0; i < n; i++) pipeline.hset(`${prefix}:session:u${i}:a`, FIELD, OLD);
    await pipeline.exec();
    let pages = 0;
    for await (const page of store().scanSubjects(rule({}))) {
      expect(page.length).toBeGreaterThan(0);
      if (++pages === 1) break;
    }
    expect(pages).toBe(1);
    expect((await collect(store().scanSubjects(rule({})))).length).toBe(n);
  });

  it('passes a connection failure on to the reader', async () => {
    const pages = store('redis://127.0.0.1:1').scanSubjects(rule({}));
    await expect(collect(pages)).rejects.toThrow(/cannot connect to Redis/);
  });
});

describe('config: how a redis rule names its person', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'redis-subjects-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function load(ruleYaml: string) {
    const file = join(dir, `${randomBytes(4).toString('hex')}.yaml`);
    writeFileSync(
      file,
      `
redis: "${REDIS_URL}"
state: "${DATABASE_URL}"
stores:
  cache: { kind: redis, url: "${REDIS_URL}" }
rules:
  - { id: sessions, store: cache, retain: P30D, action: delete, anchorUnit: ms, ${ruleYaml} }
`,
    );
    return loadConfig(file, {}, STORE_KINDS);
  }

  function problems(ruleYaml: string): string[] {
    try {
      load(ruleYaml);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
      throw error;
    }
    return [];
  }

  it('reads a {subject} placeholder as the rule subject, and a hash field as one', () => {
    expect(load(`keys: "session:{subject}:*", anchor: ${FIELD}`).rules[0]!.subject).toBe(SUBJECT_PLACEHOLDER);
    expect(load(`keys: "*:session:{subject}", anchor: score, shape: zset`).rules[0]!.subject).toBe(SUBJECT_PLACEHOLDER);
    expect(load(`keys: "session:{{subject}}:*", anchor: stream-id, shape: stream`).rules[0]!.subject).toBe(SUBJECT_PLACEHOLDER);
    expect(load(`keys: "session:*", anchor: ${FIELD}, subject: user_id`).rules[0]!.subject).toBe('user_id');
    expect(load(`keys: "session:*", anchor: ${FIELD}`).rules[0]!.subject).toBeNull();
  });

  it('refuses a placeholder written twice, inside brackets, escaped, or where a key could name two people', () => {
    expect(problems(`keys: "s:{subject}:{subject}", anchor: ${FIELD}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: \{subject\} appears 2 times/)]);
    expect(problems(`keys: "s:[{subject}]", anchor: ${FIELD}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: \{subject\} inside \[\.\.\.\]/)]);
    expect(problems(`keys: "s:[^{subject}]", anchor: ${FIELD}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: \{subject\} inside \[\.\.\.\]/)]);
    expect(problems(`keys: 's:\\{subject}', anchor: ${FIELD}`)).toEqual([expect.stringMatching(/^rules\[0\]\.keys: \\\{subject\} escapes the placeholder/)]);
    for (const keys of ['*:{subject}:*', 's:{subject}*', 's:u{subject}-*', '*{subject}']) {
      expect(problems(`keys: "${keys}", anchor: ${FIELD}`), keys).toEqual([expect.stringMatching(/^rules\[0\]\.keys: a key could name more than one person/)]);
    }
  });

  it('refuses a placeholder with a subject field, a subject field on a sorted set or stream, and a subject that is the anchor', () => {
    expect(problems(`keys: "s:{subject}", anchor: ${FIELD}, subject: user_id`)).toEqual([expect.stringMatching(/^rules\[0\]\.subject: the \{subject\} placeholder .* already names the person/)]);
    expect(problems(`keys: "logins:*", anchor: score, shape: zset, subject: user_id`)).toEqual([expect.stringMatching(/^rules\[0\]\.subject: a sorted set's members have no field naming the person/)]);
    expect(problems(`keys: "events:*", anchor: stream-id, shape: stream, subject: user_id`)).toEqual([expect.stringMatching(/^rules\[0\]\.subject: a stream's entries have no field/)]);
    expect(problems(`keys: "s:*", anchor: ${FIELD}, subject: ${FIELD}`)).toEqual([expect.stringMatching(/^rules\[0\]\.subject: subject and anchor both name/)]);
  });
});

describe('people on a Redis Cluster', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await RedisCluster.start();
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('erases one person and keeps a held one across every master', async () => {
    const client = cluster.client();
    // One key at a time: a multi-key command on a cluster needs its keys in one slot.
    const present = async (...keys: string[]) => (await Promise.all(keys.map((key) => client.exists(key)))).filter((n) => n === 1).length;
    try {
      const ids = Array.from({ length: 60 }, (_, i) => `u${i}`);
      for (const id of ids) {
        await client.hset(`${prefix}:session:${id}:a`, FIELD, OLD);
        // A hash tag puts a person's keys in one slot.
        await client.hset(`${prefix}:cart:{${id}}:a`, FIELD, OLD);
      }
      const session = rule({});
      const cart = rule({ keys: `${prefix}:cart:{${SUBJECT_PLACEHOLDER}}:*` });
      expect(await apply(session, ofSubject('u1'), false, cluster.url)).toEqual({ rows: 1 });
      expect(await apply(cart, ofSubject('u1'), false, cluster.url)).toEqual({ rows: 1 });
      expect(await present(`${prefix}:session:u1:a`, `${prefix}:cart:{u1}:a`)).toBe(0);
      expect(await present(`${prefix}:session:u10:a`, `${prefix}:cart:{u10}:a`)).toBe(2);
      const held = exceptHeld(SWEEP, ['u2', 'u3']);
      expect(await apply(session, held, false, cluster.url)).toEqual({ rows: 57, held: 2 });
      expect(await apply(cart, held, false, cluster.url)).toEqual({ rows: 57, held: 2 });
      expect(await present(`${prefix}:session:u2:a`, `${prefix}:session:u3:a`, `${prefix}:cart:{u2}:a`, `${prefix}:cart:{u3}:a`)).toBe(4);
      expect(await present(`${prefix}:session:u4:a`, `${prefix}:cart:{u4}:a`)).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});
