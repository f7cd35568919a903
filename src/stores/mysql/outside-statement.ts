import type { Rule } from '../../policy/rule.js';
import type { MysqlTable } from './catalog.js';
import { join, qualified, raw, sql, type Fragment } from './mysql-sql.js';
import type { MysqlTarget } from './mysql-target.js';
import { filterPredicate } from './statements.js';

type MysqlRule = Rule<MysqlTarget>;

/**
 * Rows of the table `rules` share that none of their `where` filters select, whatever their
 * age: what a service sunset (`retention sunset`) leaves in place. A filter that compares
 * as unknown on a row (a NULL against a value) does not select it, as in the rules' own
 * statements. A rule without filters selects every row (nothing is left outside).
 */
export function outsideStatement(rules: readonly MysqlRule[], table: MysqlTable): Fragment {
  const first = rules[0];
  if (!first) throw new Error('outsideStatement needs at least one rule');
  const selected = rules.map((rule) => {
    const filters = rule.target.where.map((f) => filterPredicate(f, table));
    return filters.length === 0 ? raw('TRUE') : sql`COALESCE((${join(filters, ' AND ')}), FALSE)`;
  });
  return sql`SELECT COUNT(*) AS n FROM ${qualified(first.target.table)} WHERE NOT (${join(selected, ' OR ')})`;
}
