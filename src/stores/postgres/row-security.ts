import type { TableName } from '../sql/sql-target.js';
import { shownTable } from '../sql/sql-target.js';
import { Params, qualified, type Statement } from './sql.js';

/**
 * Row-level security on a swept table, as it applies to the role retention connects as.
 * A role subject to RLS sees only the rows its policies let it see: the expired rows
 * the policies hide are never counted, selected or deleted, and `check`, `plan` and `run`
 * all succeed while those rows stay past their date. So `check` refuses such a table,
 * unless a policy plainly opens every row to the role (see `rowSecurityStatement`).
 */
export interface RowSecurity {
  /** RLS is enabled on the table and applies to the current role (PostgreSQL's own `row_security_active`: not superuser, not BYPASSRLS, not the owner unless FORCE). */
  subject: boolean;
  /** A permissive policy for ALL commands, applying to the role, with `USING (true)` (and no WITH CHECK other than `true`). */
  open: boolean;
  /** A restrictive policy applying to the role (for any command): it can narrow what `open` opens. */
  restricted: boolean;
  role: string;
}

/**
 * How RLS applies to the current role on `table`; no row when the table does not exist.
 * A policy applies to the role when it names PUBLIC (role 0) or a role whose privileges
 * the current one has (PostgreSQL matches policies the same way, by privileges: USAGE).
 */
export function rowSecurityStatement(table: TableName): Statement {
  const params = new Params();
  const name = params.add(qualified(table));
  const applies = `(0 = ANY (p.polroles) OR EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid) WHERE r.oid <> 0 AND pg_has_role(current_user, r.oid, 'USAGE')))`;
  return {
    text: `SELECT c.relrowsecurity AND row_security_active(c.oid) AS subject,
                  current_user AS role,
                  EXISTS (SELECT 1 FROM pg_policy p
                           WHERE p.polrelid = c.oid AND p.polpermissive AND p.polcmd = '*' AND ${applies}
                             AND pg_get_expr(p.polqual, p.polrelid) = 'true'
                             AND (p.polwithcheck IS NULL OR pg_get_expr(p.polwithcheck, p.polrelid) = 'true')) AS open,
                  EXISTS (SELECT 1 FROM pg_policy p
                           WHERE p.polrelid = c.oid AND NOT p.polpermissive AND ${applies}) AS restricted
             FROM pg_class c
            WHERE c.oid = to_regclass(${name})`,
    values: params.values,
  };
}

/** Where the deployment guide says how to let the worker's role see every row. */
const GUIDE = 'docs/deployment.md, "Row-level security"';

/** Why the rule cannot see every row of `table`, or undefined when it can. */
export function rowSecurityProblem(ruleId: string, table: TableName, security: RowSecurity): string | undefined {
  if (!security.subject || (security.open && !security.restricted)) return undefined;
  const shown = shownTable(table);
  const why = security.restricted
    ? 'and a restrictive policy applies to it'
    : 'and no policy for ALL commands with USING (true) applies to it';
  return `rule ${ruleId}: table ${shown} has row-level security enabled, which applies to role ${security.role} (not a superuser, not BYPASSRLS, not the owner or FORCE ROW LEVEL SECURITY is set) ${why}: rows its policies hide would never be seen, and would be kept past their date while every sweep succeeds. Give the role a policy of its own: CREATE POLICY retention_worker_all ON ${shown} TO ${security.role} USING (true) (${GUIDE})`;
}
