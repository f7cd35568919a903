import type pg from 'pg';
import type { ConfigProblem } from '../../errors.js';
import { shownTable } from '../sql/sql-target.js';
import { Params, qualified, type Statement, type TableName } from './sql.js';

/**
 * What the role a connection runs as may do beyond what sweeping needs, for `check`'s
 * warnings. The worker needs SELECT and DELETE (UPDATE to anonymize) on the tables its
 * rules sweep and its own state schema (docs/deployment.md, "The database role"); a role
 * that can do more turns a wrong rule or a bug into damage the database could have refused.
 */
export interface RolePrivileges {
  role: string;
  database: string;
  superuser: boolean;
  /** A superuser role this one is a member of, and so can `SET ROLE` to; null when none. */
  superuserMemberOf: string | null;
  bypassRls: boolean;
  createRole: boolean;
  /** Owns the database (or is a member of the role that does, and so can `SET ROLE` to it). */
  ownsDatabase: boolean;
  /** A member of pg_write_all_data (PostgreSQL 14+): INSERT, UPDATE and DELETE on every table, granted or not. */
  writeAllData: boolean;
  /** A member of pg_read_all_data (PostgreSQL 14+): SELECT on every table, granted or not. */
  readAllData: boolean;
}

/** The current role's attributes, in the database the connection is to. */
export function rolePrivilegesStatement(): Statement {
  return {
    text: `SELECT r.rolname AS role, current_database() AS database, r.rolsuper AS superuser,
                  r.rolbypassrls AS "bypassRls", r.rolcreaterole AS "createRole",
                  (SELECT s.rolname FROM pg_roles s
                    WHERE s.rolsuper AND s.rolname <> r.rolname AND pg_has_role(r.oid, s.oid, 'MEMBER')
                    ORDER BY s.rolname LIMIT 1) AS "superuserMemberOf",
                  pg_has_role(r.oid, d.datdba, 'MEMBER') AS "ownsDatabase",
                  EXISTS (SELECT 1 FROM pg_roles w WHERE w.rolname = 'pg_write_all_data' AND pg_has_role(r.oid, w.oid, 'MEMBER')) AS "writeAllData",
                  EXISTS (SELECT 1 FROM pg_roles w WHERE w.rolname = 'pg_read_all_data' AND pg_has_role(r.oid, w.oid, 'MEMBER')) AS "readAllData"
             FROM pg_roles r
             JOIN pg_database d ON d.datname = current_database()
            WHERE r.rolname = current_user`,
    values: [],
  };
}

/**
 * Which of `tables` the current role owns (itself, or through a role it is a member of:
 * even without inheriting its privileges, it can `SET ROLE` to the owner): by position in
 * the list. A table that does not exist is no one's (check reports it).
 */
export function ownedTablesStatement(tables: readonly TableName[]): Statement {
  const params = new Params();
  const names = params.add(tables.map((t) => qualified(t)));
  return {
    text: `SELECT w.i::int AS i
             FROM unnest(${names}::text[]) WITH ORDINALITY AS w(name, i)
             JOIN pg_class c ON c.oid = to_regclass(w.name)
            WHERE pg_has_role(current_user, c.relowner, 'MEMBER')
            ORDER BY w.i`,
    values: params.values,
  };
}

/** Where the deployment guide says what the worker's role needs. */
const GUIDE = 'docs/deployment.md, "The database role"';

/** The warnings for a role's attributes: superuser alone when it is one (it implies the rest). */
export function rolePrivilegeWarnings(p: RolePrivileges): string[] {
  const who = `connects to database ${p.database} as ${p.role}`;
  if (p.superuser || p.superuserMemberOf !== null) {
    const what = p.superuser ? 'a superuser' : `a member of the superuser role ${p.superuserMemberOf} (it can SET ROLE to it)`;
    return [
      `${who}, ${what}: past every privilege and row-level security policy, nothing in the database can stop a wrong rule or a bug from deleting anything. Run retention as a role with only what it needs (${GUIDE})`,
    ];
  }
  const warnings: string[] = [];
  if (p.bypassRls) warnings.push(`${who}, which has BYPASSRLS: row-level security policies do not apply to it. Run retention as a role without it (${GUIDE})`);
  if (p.createRole) warnings.push(`${who}, which has CREATEROLE: it can create roles and grant itself what they hold. Run retention as a role without it (${GUIDE})`);
  if (p.writeAllData) warnings.push(`${who}, a member of pg_write_all_data: it can INSERT, UPDATE and DELETE in every table of the database, whatever is granted on it. Grant retention's role only what its rules need instead (${GUIDE})`);
  if (p.readAllData) warnings.push(`${who}, a member of pg_read_all_data: it can read every table of the database, whatever is granted on it. Grant retention's role only what its rules need instead (${GUIDE})`);
  if (p.ownsDatabase) warnings.push(`${who}, which owns the database: it can create and drop schemas and change the database's settings. Run retention as a role that does not own it (${GUIDE})`);
  return warnings;
}

/**
 * The role warnings of one connection: its attributes at `path` (`state`, `stores.app`),
 * and each swept table it owns at that rule's path (`rules[2].table`). Warnings only:
 * `check` prints them and succeeds.
 */
export async function inspectRole(client: pg.Pool | pg.ClientBase, path: string, tables: readonly { table: TableName; path: string }[]): Promise<ConfigProblem[]> {
  const attributes = rolePrivilegesStatement();
  const row = (await client.query<RolePrivileges>(attributes.text, attributes.values)).rows[0];
  if (!row) return [];
  const problems: ConfigProblem[] = rolePrivilegeWarnings(row).map((message) => ({ path, message, severity: 'warning' }));
  // A superuser's ownership adds nothing to the warning above.
  if (row.superuser || row.superuserMemberOf !== null || tables.length === 0) return problems;
  const owned = ownedTablesStatement(tables.map((t) => t.table));
  for (const { i } of (await client.query<{ i: number }>(owned.text, owned.values)).rows) {
    const { table, path: at } = tables[i - 1]!;
    problems.push({
      path: at,
      severity: 'warning',
      message: `connects to database ${row.database} as ${row.role}, which owns ${shownTable(table)}: it could ALTER, TRUNCATE or DROP the table, and row-level security does not apply to its owner. Grant retention's role SELECT and DELETE on it (UPDATE to anonymize) instead (${GUIDE})`,
    });
  }
  return problems;
}
