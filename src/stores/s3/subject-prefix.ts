import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import { placeholderCount } from '../subject-segment.js';

/**
 * A prefix with `{subject}` taken apart: the prefix above the person's segment (what a
 * sweep lists), and what follows the segment (from its `/`). `photos/{subject}/docs/`:
 * `photos/` and `/docs/`. Null without the placeholder.
 */
export interface SubjectPrefix {
  above: string;
  below: string;
}

export function subjectPrefix(prefix: string): SubjectPrefix | null {
  if (placeholderCount(prefix) === 0) return null;
  const at = prefix.indexOf(SUBJECT_PLACEHOLDER);
  return { above: prefix.slice(0, at), below: prefix.slice(at + SUBJECT_PLACEHOLDER.length) };
}

/**
 * The person's segment of `key` when the key lies under `prefix` with any one segment in
 * the placeholder's place; null when it does not (an empty segment included).
 */
export function subjectOfKey(prefix: SubjectPrefix, key: string): string | null {
  if (!key.startsWith(prefix.above)) return null;
  const rest = key.slice(prefix.above.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || !rest.startsWith(prefix.below, slash)) return null;
  return rest.slice(0, slash);
}
