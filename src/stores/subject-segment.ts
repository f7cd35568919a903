import { UserError } from '../errors.js';
import { SUBJECT_PLACEHOLDER } from '../policy/rule.js';

/**
 * A `{subject}` placeholder in a path-like target (a files glob, an S3 prefix) stands for
 * exactly one whole path segment: `photos/{subject}/**`, never `photos/u-{subject}/`. A
 * partial segment would make whose an item is depend on how a name splits (`u-1-2` is
 * person `1-2` or, under `u-1-{subject}`, person `2`), and would let one person's id be
 * the start of another's; a whole segment is compared whole, so `u1` never reaches `u10`.
 */

/** How often `text` holds the placeholder. */
export function placeholderCount(text: string): number {
  return text.split(SUBJECT_PLACEHOLDER).length - 1;
}

/**
 * Why the placeholder in `text` (a path of `/`-separated segments) is misplaced: more than
 * once, or not a whole segment. Undefined when it is absent or well placed. `example` is a
 * correct use, for the message.
 */
export function placeholderProblem(text: string, example: string): string | undefined {
  const count = placeholderCount(text);
  if (count === 0) return undefined;
  if (count > 1) return `${JSON.stringify(text)} has ${SUBJECT_PLACEHOLDER} ${count} times; it names the person once, as in ${JSON.stringify(example)}`;
  const at = text.indexOf(SUBJECT_PLACEHOLDER);
  const end = at + SUBJECT_PLACEHOLDER.length;
  const whole = (at === 0 || text[at - 1] === '/') && (end === text.length || text[end] === '/');
  if (!whole) return `${JSON.stringify(text)}: ${SUBJECT_PLACEHOLDER} stands for a whole path segment, between slashes, as in ${JSON.stringify(example)}`;
  return undefined;
}

/** Lone UTF-16 surrogates: no file name or S3 key can hold one, so such an id names nothing. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Why `id` cannot stand for one path segment, never showing it (an id is personal data):
 * empty, `.` or `..` (another directory), with `/` (more than one segment) or NUL, or not
 * well-formed Unicode. Undefined when it can.
 */
export function subjectSegmentProblem(id: string): string | undefined {
  if (id.length === 0) return 'is empty';
  if (id === '.' || id === '..') return 'is . or .., which name a directory, not a person';
  if (id.includes('/')) return 'contains /, so it would span more than one path segment';
  if (id.includes('\0')) return 'contains a NUL character';
  if (LONE_SURROGATE.test(id)) return 'is not well-formed Unicode';
  return undefined;
}

/**
 * `id` as the one segment it must be for rule `ruleId`, whose `target` (a glob, a prefix)
 * holds the placeholder; a UserError naming the rule otherwise, so that a bad id is
 * refused, never widened or read as a path.
 */
export function requireSubjectSegment(ruleId: string, target: string, id: string): string {
  const problem = subjectSegmentProblem(id);
  if (problem) throw new UserError(`rule ${ruleId}: the subject id ${problem}; it cannot stand for ${SUBJECT_PLACEHOLDER} in ${JSON.stringify(target)}`);
  return id;
}
