import type { ConfigProblem } from '../../errors.js';
import type { Rule } from '../../policy/rule.js';

/**
 * `check`'s warning for a never-store rule (`never: true`) whose anchor column allows NULL.
 * A sweep selects rows by their anchor, and a row with a NULL anchor cannot be dated, so no
 * sweep ever finds it (plan and run count it as unjudged, `null anchor`): face data written
 * without a date would stay, and no incident would say so. A column that is always set
 * (`created_at timestamptz NOT NULL DEFAULT now()`; MySQL: `DEFAULT CURRENT_TIMESTAMP`) closes that gap. Null when the rule is
 * not a never-store rule, or the column is NOT NULL.
 */
export function neverStoreAnchorWarning(
  rule: Pick<Rule, 'id' | 'never'>,
  path: string,
  table: string,
  anchor: { name: string; nullable: boolean },
  /** A NOT NULL anchor column in the server's own dialect. */
  example: string,
): ConfigProblem | null {
  if (!rule.never || !anchor.nullable) return null;
  return {
    path: `${path}.anchor`,
    severity: 'warning',
    message:
      `rule ${rule.id} is a never-store rule, and column ${anchor.name} of ${table} allows NULL: rows with a NULL anchor would never be found by a sweep ` +
      `(they are reported as unjudged, never deleted); anchor it on a NOT NULL column, e.g. ${example}`,
  };
}
