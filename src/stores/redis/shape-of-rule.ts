import type { ConfigProblem } from '../../errors.js';
import { parseDuration } from '../../policy/duration.js';
import type { Action } from '../../policy/rule.js';
import { ExpireTtlShape } from './expire-ttl.js';
import { HashShape } from './hash-shape.js';
import type { RedisShape } from './redis-shape.js';
import { SortedSetShape } from './sorted-set-shape.js';
import { StreamShape } from './stream-shape.js';
import type { AnchorUnit } from './target.js';

/** The Redis data types a rule can sweep. */
export type ShapeName = 'hash' | 'zset' | 'stream';
export const SHAPES: readonly ShapeName[] = ['hash', 'zset', 'stream'];

/**
 * The `anchor` each non-hash shape requires: a sorted set's member is dated by its score,
 * a stream entry by its id. Written out so that a rule reads as what it does, and checked
 * so that a hash field that happens to be called `score` is never read as a sorted set.
 */
export const SHAPE_ANCHORS: Readonly<Record<Exclude<ShapeName, 'hash'>, string>> = { zset: 'score', stream: 'stream-id' };

/** The part of a Redis rule that picks and configures its shape. */
export interface ShapeRule {
  action: Action;
  retain: string;
  timezone: string;
  target: { anchor: string; anchorUnit: AnchorUnit; shape?: ShapeName };
}

/**
 * The shape a rule sweeps. `shape` is declared, never inferred from the data or the
 * anchor's name; absent, it is `hash` (rules written before shapes existed keep their
 * definition hash).
 */
export function shapeOfRule(rule: ShapeRule): RedisShape {
  const { anchor, anchorUnit, shape = 'hash' } = rule.target;
  const problems = shapeProblems(rule, '');
  if (problems.length > 0) throw new Error(`invalid redis rule: ${problems.map((p) => p.message).join('; ')}`);
  if (shape === 'zset') return new SortedSetShape(anchorUnit as 'ms' | 's');
  if (shape === 'stream') return new StreamShape();
  if (rule.action === 'expire') return new ExpireTtlShape(anchor, anchorUnit, parseDuration(rule.retain), rule.timezone);
  return new HashShape(anchor, anchorUnit);
}

/**
 * What is wrong with a rule's shape, action, anchor and unit together (no I/O); `path`
 * is the rule's (`rules[2]`).
 */
export function shapeProblems(rule: Omit<ShapeRule, 'retain' | 'timezone'>, path: string): ConfigProblem[] {
  const { anchor, anchorUnit, shape = 'hash' } = rule.target;
  const problems: ConfigProblem[] = [];
  const at = (field: string, message: string) => problems.push({ path: path ? `${path}.${field}` : field, message });
  if (rule.action !== 'delete' && !(rule.action === 'expire' && shape === 'hash')) {
    at(
      'action',
      shape === 'hash'
        ? `a rule on a redis hash can delete keys or expire them (set a TTL for the instant their period ends), not ${rule.action}`
        : `a rule on a redis ${shape === 'zset' ? 'sorted set' : 'stream'} can only delete (its ${shape === 'zset' ? 'members' : 'entries'} have no TTL of their own)`,
    );
  }
  if (shape === 'hash') {
    const named = Object.entries(SHAPE_ANCHORS).find(([, a]) => a === anchor);
    if (named) {
      at('anchor', `anchor ${JSON.stringify(anchor)} is for shape: ${named[0]}; a hash rule names the hash field holding the anchor (write shape: ${named[0]} to sweep a ${named[0] === 'zset' ? 'sorted set' : 'stream'})`);
    }
    return problems;
  }
  if (anchor !== SHAPE_ANCHORS[shape]) at('anchor', `a shape: ${shape} rule is anchored at ${JSON.stringify(SHAPE_ANCHORS[shape])} (${shape === 'zset' ? "each member's score" : "each entry's id"}), not ${JSON.stringify(anchor)}`);
  if (shape === 'zset' && anchorUnit === 'iso') at('anchorUnit', 'a sorted set score is a number: anchorUnit ms or s, not iso');
  if (shape === 'stream' && anchorUnit !== 'ms') at('anchorUnit', `a stream id's time is in milliseconds: anchorUnit ms, not ${anchorUnit}`);
  return problems;
}
