import type { ConfigProblem } from '../../errors.js';
import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import { KeySubject } from './key-subject.js';
import type { ShapeName } from './shape-of-rule.js';

/**
 * How a Redis rule's keys name their person: a `{subject}` segment of the key (any shape:
 * every item of the key is that person's), a hash field holding the id (`subject: FIELD`,
 * hashes only), or not at all.
 */
export type RuleSubject = { kind: 'none' } | { kind: 'key'; key: KeySubject } | { kind: 'field'; field: string };

/** The part of a Redis rule that names its person. */
export interface SubjectRule {
  id: string;
  subject: string | null;
  target: { keys: string; anchor: string; shape?: ShapeName };
}

/** How `rule` names its person; throws for a rule `subjectProblems` (or the key pattern's check) refuses. */
export function subjectOfRule(rule: SubjectRule): RuleSubject {
  const problems = subjectProblems(rule, '');
  if (problems.length > 0) throw new Error(`invalid redis rule ${rule.id}: ${problems.map((p) => p.message).join('; ')}`);
  const key = KeySubject.of(rule.target.keys);
  if (key) {
    if (rule.subject !== null && rule.subject !== SUBJECT_PLACEHOLDER) throw new Error(`rule ${rule.id} names its person twice: ${SUBJECT_PLACEHOLDER} in keys and subject ${rule.subject}`);
    return { kind: 'key', key };
  }
  if (rule.subject === SUBJECT_PLACEHOLDER) throw new Error(`rule ${rule.id} names its person by ${SUBJECT_PLACEHOLDER}, but its keys ${JSON.stringify(rule.target.keys)} have none`);
  return rule.subject === null ? { kind: 'none' } : { kind: 'field', field: rule.subject };
}

/**
 * What is wrong with how a rule names its person (no I/O; the placeholder's own syntax is
 * checked with `keys`, by the target schema). `path` is the rule's (`rules[2]`).
 */
export function subjectProblems(rule: SubjectRule, path: string): ConfigProblem[] {
  const { subject } = rule;
  const { shape = 'hash', anchor } = rule.target;
  if (subject === null || subject === SUBJECT_PLACEHOLDER) return [];
  const at = (message: string): ConfigProblem[] => [{ path: path ? `${path}.subject` : 'subject', message }];
  if (shape !== 'hash') {
    const items = shape === 'zset' ? "a sorted set's members" : "a stream's entries";
    return at(`${items} have no field naming the person: put ${SUBJECT_PLACEHOLDER} in keys instead (e.g. "logins:${SUBJECT_PLACEHOLDER}"), so each key is one person's`);
  }
  if (subject === anchor) return at(`subject and anchor both name the hash field ${JSON.stringify(anchor)}: subject is the field holding the person's id`);
  return [];
}
