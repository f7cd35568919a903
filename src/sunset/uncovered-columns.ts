import type { InventoryEntry } from '../policy/inventory.js';
import type { Rule } from '../policy/rule.js';

/**
 * The columns of a table inventory entry that the rules a sunset applies to it leave in
 * clear: an anonymize rule rewrites only its `anonymize` columns, so an entry listing
 * `{ email, phone }` under a rule anonymizing `email` keeps every phone number. A delete
 * rule takes whole rows, every column, but only the rows its `where` selects: only one
 * without filters (at a sunset it selects every row, whatever its age) covers every
 * column of every row. Rows no rule selects at all are counted apart (`outside`).
 *
 * `rules` are the entry's rules that will change something (not held whole, not refused),
 * as the sunset acts (`expire`/`archive` already turned into `delete`). Empty when no
 * anonymize rule is among them (what delete rules leave is whole rows: `outside`), for
 * entries without `columns` (which columns hold what is not known), and for places
 * other than tables. Names compare exactly as written: a column spelt another way is
 * reported, the safe direction.
 */
export function uncoveredColumns(entry: InventoryEntry, rules: readonly Rule[]): string[] {
  const columns = Object.keys(entry.columns);
  if (entry.place.kind !== 'table' || columns.length === 0) return [];
  if (!rules.some((r) => r.action === 'anonymize')) return [];
  if (rules.some((r) => r.action === 'delete' && whereOf(r).length === 0)) return [];
  const rewritten = new Set(rules.filter((r) => r.action === 'anonymize').flatMap((r) => r.anonymize.map((a) => a.column)));
  return columns.filter((c) => !rewritten.has(c));
}

function whereOf(rule: Rule): readonly unknown[] {
  const where = (rule.target as { where?: unknown } | null)?.where;
  return Array.isArray(where) ? where : [];
}
