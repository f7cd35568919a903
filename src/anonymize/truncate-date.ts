import type { AnonymizeStrategy, ColumnRef } from './strategy.js';
import type { Params } from '../stores/postgres/sql.js';

const DATE_TYPES = new Set(['date', 'timestamp', 'timestamptz']);

/**
 * Truncates a date or timestamp to the first of its month (a birth date keeps its year
 * and month). A timestamptz is truncated in the rule's time zone, not the session's.
 */
export const truncateDateStrategy: AnonymizeStrategy = {
  name: 'truncate-date',
  description: 'truncate a date or timestamp to the start of its month',
  problemWith: (column) =>
    DATE_TYPES.has(column.baseType) ? undefined : `column ${column.name} is ${column.type}; "truncate-date" needs a date or timestamp`,
  assign: (column, params, context) => truncated(column, params, context.timezone),
  pending: (column, params, context) =>
    `(${column.sql} IS NOT NULL AND ${column.sql} IS DISTINCT FROM ${truncated(column, params, context.timezone)})`,
};

function truncated(column: ColumnRef, params: Params, timezone: string): string {
  switch (column.info.baseType) {
    case 'timestamptz':
      return `date_trunc('month', ${column.sql}, ${params.add(timezone)}::text)`;
    case 'date':
      return `date_trunc('month', ${column.sql})::date`;
    default:
      return `date_trunc('month', ${column.sql})`;
  }
}
