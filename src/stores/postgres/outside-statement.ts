import type { SqlRule as Rule } from '../sql/sql-target.js';
import { filterPredicate } from './statements.js';
import { Params, qualified, type Statement } from './sql.js';

/**
 * Rows of the table `rules` share that none of their `where` filters select, whatever their
 * age: what a service sunset (`retention sunset`) leaves in place. A filter that compares
 * as unknown on a row (a NULL against a value) does not select it, as in the rules' own
 * statements. A rule without filters selects every row (nothing is left outside).
 */
export function outsideStatement(rules: readonly Rule[]): Statement {
  const first = rules[0];
  if (!first) throw new Error('outsideStatement needs at least one rule');
  const params = new Params();
  const selected = rules.map((rule) => {
    const filters = rule.target.where.map((f) => filterPredicate(f, params));
    return filters.length === 0 ? 'true' : `coalesce((${filters.join(' AND ')}), false)`;
  });
  return {
    text: `SELECT count(*)::bigint AS n FROM ${qualified(first.target.table)} WHERE NOT (${selected.join(' OR ')})`,
    values: params.values,
  };
}
