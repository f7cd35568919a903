import type { Rule } from '../../policy/rule.js';

/** How a Redis anchor field is written: epoch milliseconds, epoch seconds, or an ISO-8601 instant with offset. */
import type { AnchorUnit } from '../anchor-text.js';

export type { AnchorUnit };

/** What a rule on a Redis store sweeps: the kind-specific part of the rule. */
export interface RedisTarget {
  /** SCAN MATCH pattern of the keys swept. */
  keys: string;
  /** Hash field holding the anchor, in `anchorUnit`. */
  anchor: string;
  /**
   * How the anchor field is written; declared, never guessed (a seconds anchor read as
   * milliseconds is in 1970, and would be deleted).
   */
  anchorUnit: AnchorUnit;
  /**
   * What the keys hold (shape-of-rule.ts): hashes when absent, sorted sets scored by time
   * (`anchor: score`), or streams (`anchor: stream-id`). Optional so that rules written
   * before shapes existed keep their definition hash.
   */
  shape?: 'hash' | 'zset' | 'stream';
}

export type RedisRule = Rule<RedisTarget>;

/**
 * A rule read as a Redis kind's: the typed accessor for code that holds a rule of any
 * kind. Throws for a rule whose target is not a key pattern.
 */
export function redisRule(rule: Rule<unknown>): RedisRule {
  const target = rule.target as Partial<RedisTarget> | null;
  if (target === null || typeof target !== 'object' || typeof target.keys !== 'string' || typeof target.anchor !== 'string') {
    throw new Error(`rule ${rule.id} (store kind ${rule.kind}) does not sweep Redis keys`);
  }
  return rule as RedisRule;
}
