import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Redis } from 'ioredis';
import { clearDemoQueueKeys } from './demo-queue-keys.js';
import type { LoopbackS3 } from './loopback-s3.js';

/**
 * The demo's stores besides its PostgreSQL tables: login sessions in Redis sorted sets and
 * uploaded documents in an S3 bucket (and ID photo files, see demo-photos.ts). Each is
 * built with known ages and then read back by the demo's own means (ZRANGE, ListObjectsV2,
 * readdir), never through the scheduler's store code, so that what `plan` and `run` report
 * can be checked against an independent reading.
 *
 * Ages are drawn from a fixed seed relative to the moment the demo builds them, whole
 * seconds, so every run builds the same data relative to its `now` (as demo-schema.ts does
 * for the tables).
 */

/** What the demo reads in one store, for one rule. */
export interface ObjectSurvey {
  /**
   * The instant each item the rule can judge starts its period at, as ISO-8601 strings, at
   * the precision the store keeps (an S3 object's LastModified stands for its whole second:
   * the last millisecond of it).
   */
  anchors: string[];
  /** Items the rule covers but must never judge (a malformed anchor, a key of another type). */
  unjudged: number;
  /** Items next to the rule's target but outside it: never touched. */
  outside: number;
}

export interface DemoObjects {
  readonly ruleId: string;
  /** What its counts count, for the tables: "members of retention-demo.sessions:...". */
  readonly counted: string;
  /** What `unjudged` and `outside` are, for the reader. */
  readonly unjudgedAre: string;
  readonly outsideAre: string;
  /** Empties what a previous run left (only the demo's own) and builds the data. */
  build(nowMs: number): Promise<void>;
  survey(): Promise<ObjectSurvey>;
}

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32): the same data every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const hex = (random: () => number, digits: number) =>
  Array.from({ length: digits }, () => Math.floor(random() * 16).toString(16)).join('');
/** A whole second `ageMs` before `nowMs`. */
const secondsAgo = (nowMs: number, ageMs: number) => Math.floor((nowMs - ageMs) / 1000) * 1000;
const iso = (ms: number) => new Date(ms).toISOString();

// --- PERCENT login sessions: Redis sorted sets ----------------------------------------------

/** Accounts with a sorted set of login sessions; each has 1 to 15 sessions. */
export const SESSION_ACCOUNTS = 3_000;
/** Logins are spread over this much of the past. */
const SESSION_HISTORY_MS = 2 * 365 * DAY_MS;
/** Every this-many-th account also holds one login its writer scored in seconds, not ms. */
const SECONDS_BUG_EVERY = 60;
/** Scores Redis holds that are no time in milliseconds (before 2000, from 2100): never judged. */
const PLAUSIBLE_FROM_MS = Date.UTC(2000, 0, 1);
const PLAUSIBLE_UNTIL_MS = Date.UTC(2100, 0, 1);

/**
 * PERCENT's login sessions: `<prefix>:percent:logins:<account>`, a sorted set per account
 * whose members are session ids scored by login time in epoch milliseconds. Planted among
 * them: logins scored in seconds by a buggy writer (1970 in milliseconds: must be counted
 * as implausible, never removed) and one key of the pattern that is a hash (not a sorted
 * set: never touched). Next to them, outside the rule's pattern,
 * `<prefix>:percent:active-sessions` holds the same kind of members and must stay whole.
 *
 * `prefix` is the demo's own (`<queuePrefix>.sessions`): the reset deletes exactly the keys
 * `<prefix>:...`, so nothing else in a shared Redis is touched. A queue prefix cannot hold a
 * `.`, so this is never anyone's queue prefix, and another person's (`bob-demo.sessions`)
 * is never a prefix of it.
 */
export function loginSessions(ruleId: string, redis: Redis, prefix: string): DemoObjects {
  const logins = `${prefix}:percent:logins:`;
  const active = `${prefix}:percent:active-sessions`;
  return {
    ruleId,
    counted: `members of ${logins}*`,
    unjudgedAre: 'logins scored in seconds (implausible as ms), a key that is no sorted set',
    outsideAre: `members of ${active}`,
    async build(nowMs) {
      await clearDemoQueueKeys(redis, prefix);
      const random = seededRandom(7);
      const pipeline = redis.pipeline();
      for (let account = 1; account <= SESSION_ACCOUNTS; account++) {
        const args: (string | number)[] = [];
        const sessions = 1 + Math.floor(random() * 15);
        for (let s = 0; s < sessions; s++) args.push(secondsAgo(nowMs, random() * SESSION_HISTORY_MS), `s-${hex(random, 16)}`);
        if (account % SECONDS_BUG_EVERY === 0) args.push(secondsAgo(nowMs, random() * SESSION_HISTORY_MS) / 1000, `s-${hex(random, 16)}`);
        pipeline.zadd(`${logins}${account}`, ...args);
      }
      // A key the pattern matches that holds something else: counted, never touched.
      pipeline.hset(`${logins}export-2024`, { format: 'csv', rows: '0' });
      const activeArgs: (string | number)[] = [];
      for (let s = 0; s < 200; s++) activeArgs.push(secondsAgo(nowMs, random() * SESSION_HISTORY_MS), `s-${hex(random, 16)}`);
      pipeline.zadd(active, ...activeArgs);
      const replies = (await pipeline.exec()) ?? [];
      const failed = replies.find(([error]) => error);
      if (failed) throw failed[0]!;
    },
    async survey() {
      const out: ObjectSurvey = { anchors: [], unjudged: 0, outside: 0 };
      for (const key of await scanAll(redis, prefix)) {
        if (!key.startsWith(logins)) {
          out.outside += await redis.zcard(key);
          continue;
        }
        if ((await redis.type(key)) !== 'zset') {
          out.unjudged += 1;
          continue;
        }
        const flat = await redis.zrange(key, 0, -1, 'WITHSCORES');
        for (let i = 1; i < flat.length; i += 2) {
          const score = Number(flat[i]);
          if (score >= PLAUSIBLE_FROM_MS && score < PLAUSIBLE_UNTIL_MS) out.anchors.push(iso(score));
          else out.unjudged += 1;
        }
      }
      return out;
    },
  };
}

/** Every key `<prefix>:...`, by SCAN (the demo's keys only; checked again by name). */
async function scanAll(redis: Redis, prefix: string): Promise<string[]> {
  const own = `${prefix}:`;
  const pattern = `${own.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, page] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...page.filter((key) => key.startsWith(own)));
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

// --- Wentong Cloud uploaded documents: an S3 bucket -----------------------------------------

/** Uploads left under `incoming/` (never registered as a document), spread over three years. */
export const UNREGISTERED_UPLOADS = 800;
const UPLOAD_HISTORY_MS = 3 * 365 * DAY_MS;
/** Monthly exports under `exports/`: old, outside the rule's prefix, never touched. */
const EXPORTS = 24;
/** PutObject requests in flight while building. */
const UPLOADS_IN_FLIGHT = 16;

/**
 * Wentong Cloud's uploads the application never registered as a document (no row names
 * them): `incoming/<kind>-<upload id>.pdf` in a bucket on the demo's loopback S3 server, aged
 * by LastModified (set through the server's file times, as if uploaded then). A registered
 * document's object would belong to its row (config/policies/wentong.yaml: `uploads/`,
 * deleted only with its row), so no rule sweeps anything but `incoming/` by age. `exports/`
 * beside them is outside the rule's prefix.
 * The server is new for every run (its data in a temporary directory), so building starts
 * from an empty bucket.
 */
export function unregisteredUploads(ruleId: string, s3: S3Client, server: LoopbackS3, bucket: string, prefix: string): DemoObjects {
  return {
    ruleId,
    counted: `objects in s3://${bucket}/${prefix}`,
    unjudgedAre: 'none (every object has a LastModified)',
    outsideAre: `objects in s3://${bucket}/exports/`,
    async build(nowMs) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      const random = seededRandom(11);
      const objects: { key: string; ms: number; body: string }[] = [];
      for (let i = 1; i <= UNREGISTERED_UPLOADS; i++) {
        const ms = secondsAgo(nowMs, random() * UPLOAD_HISTORY_MS);
        const kind = ['invoice', 'order', 'customs-declaration', 'bill-of-lading'][Math.floor(random() * 4)]!;
        objects.push({ key: `${prefix}${kind}-${hex(random, 16)}.pdf`, ms, body: `%PDF-1.4\n% demo ${kind} ${i}, no real data\n` });
      }
      for (let month = 1; month <= EXPORTS; month++) {
        const ms = secondsAgo(nowMs, month * 31 * DAY_MS);
        objects.push({ key: `exports/${iso(ms).slice(0, 7)}-summary.csv`, ms, body: 'tenant,documents\n' });
      }
      let next = 0;
      const upload = async () => {
        while (next < objects.length) {
          const { key, ms, body } = objects[next++]!;
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: key.endsWith('.pdf') ? 'application/pdf' : 'text/csv' }));
          await server.setLastModified(bucket, key, ms);
        }
      };
      await Promise.all(Array.from({ length: UPLOADS_IN_FLIGHT }, upload));
    },
    async survey() {
      const out: ObjectSurvey = { anchors: [], unjudged: 0, outside: 0 };
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const object of page.Contents ?? []) {
          if (!object.Key?.startsWith(prefix)) out.outside += 1;
          // LastModified is kept to the second: the object's period starts with the last
          // instant of that second (it is expired only when all of the second is).
          else if (object.LastModified) out.anchors.push(iso(Math.floor(object.LastModified.getTime() / 1000) * 1000 + 999));
          else out.unjudged += 1;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
  };
}
