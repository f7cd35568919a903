import type { Rule } from '../policy/rule.js';
import type { HoldRecord } from '../state/holds.js';

/** How plan and receipt say why a subject hold stops a rule without `subject` in a sunset. */
export const SUBJECTLESS_HELD = 'held: a subject hold is in force and this rule cannot tell whose its items are';

/**
 * In a service sunset, the hold that stops a rule without a `subject`: any subject hold in
 * force. Such a rule cannot leave one person's items out, and a sunset deletes all of its
 * items at once (a sweep only deletes expired ones, which is why sweeps let it go on), so
 * the held person's data could be among them. Null when no subject hold is in force.
 * Released holds stop nothing: the operator releases them to let the rule run.
 */
export function subjectlessHold(holds: readonly HoldRecord[], rule: Rule): HoldRecord | null {
  if (rule.subject !== null) return null;
  return holds.find((h) => h.subjectDigest !== null) ?? null;
}
