import { z } from 'zod';
import { IDENTIFIER, IDENTIFIER_HINT } from '../../policy/config-schema.js';
import { redisUrlSchema } from '../../policy/redis-url.js';
import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import type { StoreKind } from '../store-kind.js';
import { keyProblems } from './key-subject.js';
import { SHAPE_ANCHORS, SHAPES, shapeProblems } from './shape-of-rule.js';
import { subjectProblems } from './subject-of-rule.js';
import type { RedisTarget } from './target.js';

export interface RedisConfig {
  url: string;
}

const configSchema = z
  .strictObject({ url: redisUrlSchema('url').describe('the Redis holding the keys: redis://, rediss:// (TLS) or redis+cluster://host:port,host:port') })
  .describe('Keys of a Redis database matching a pattern: hashes dated by a field, sorted-set members by score, stream entries by id. Keys under queuePrefix are never touched.');

const targetSchema = z.strictObject({
  /**
   * The SCAN MATCH pattern of the keys to sweep, e.g. "session:*"; `{subject}` once, as one
   * key segment, names the person ("session:{subject}:*", key-subject.ts).
   */
  keys: z
    .string({
      error: (issue) =>
        issue.input === undefined ? 'a rule on a redis store needs keys: the SCAN pattern of the keys to sweep, e.g. "session:*"' : 'keys must be a string',
    })
    .min(1, { error: 'keys must be a non-empty SCAN pattern such as "session:*"' })
    .superRefine((keys, ctx) => {
      for (const message of keyProblems(keys)) ctx.addIssue({ code: 'custom', message });
    })
    .describe('the SCAN MATCH pattern of the keys to sweep, e.g. "session:*"; {subject} once, as a whole segment, names the person ("session:{subject}:*")'),
  /** The hash field holding the anchor; `score` for a sorted set, `stream-id` for a stream. */
  anchor: z
    .string({ error: (issue) => (issue.input === undefined ? 'is required' : 'anchor must be a string') })
    .refine((anchor) => IDENTIFIER.test(anchor) || Object.values(SHAPE_ANCHORS).includes(anchor), {
      error: (issue) => `${JSON.stringify(issue.input)} is not a hash field name (${IDENTIFIER_HINT}), score or stream-id`,
    })
    .describe('what dates an item: the hash field holding the instant (shape hash), score (zset) or stream-id (stream)'),
  /** What the keys hold: hashes (default), sorted sets scored by time, streams. Declared, never guessed. */
  shape: z
    .enum(SHAPES, { error: (issue) => `${JSON.stringify(issue.input)} is not a redis shape (hash, zset or stream)` })
    .describe('what the keys hold: hash (default; the key goes when its anchor expires), zset (members scored by time) or stream (entries dated by their id)')
    .optional(),
  /** How the anchor field is written: declared, never guessed. */
  anchorUnit: z.enum(['ms', 's', 'iso'], {
    error: (issue) =>
      issue.input === undefined
        ? 'a rule on a redis store needs anchorUnit: how its anchor field is written (ms: epoch milliseconds, s: epoch seconds, iso: an ISO-8601 instant with offset)'
        : `${JSON.stringify(issue.input)} is not an anchor unit (ms, s or iso)`,
  }).describe('how the anchor is written, declared, never guessed: ms or s (epoch milliseconds or seconds, digits only) or iso (an ISO-8601 instant with an offset); a zset score ms or s, a stream id ms'),
});

/** `kind: redis`: keys of a Redis database matching a pattern (`keys:`), deleted when their anchor expires. */
export const redisKind: StoreKind<RedisConfig, RedisTarget> = {
  kind: 'redis',
  configSchema,
  targetSchema,
  targetKeys: ['keys', 'anchor', 'anchorUnit', 'shape'],
  // `expire` on hashes only: checkRule says so for a sorted set or a stream. People: a
  // `{subject}` segment in keys (every shape) or a subject field (hashes), subject-of-rule.ts.
  capabilities: { actions: ['delete', 'expire'], anonymize: false, subjects: true, audit: 'change-then-record' },
  misplaced: {
    table: 'a rule on a redis store sweeps keys, not a table: use keys',
    where: 'filters apply to PostgreSQL tables only',
    anchorZone: 'anchorZone is for timestamp and date columns of PostgreSQL tables; a Redis anchor is an instant',
    cascades: 'cascades is for rules that delete rows of a PostgreSQL table; keys have no foreign keys',
    key: 'key is the primary key column of a table; a rule on a redis store sweeps keys by their pattern (keys)',
  },
  subjectInTarget(target) {
    return target.keys.includes(SUBJECT_PLACEHOLDER);
  },
  checkRule(rule, _config, path) {
    return [...shapeProblems(rule, path), ...subjectProblems(rule, path)];
  },
  async create(name, config, deps) {
    const { RedisStore } = await import('./redis-store.js');
    return new RedisStore(name, config.url, deps.origin('url'), deps.queuePrefix);
  },
};
