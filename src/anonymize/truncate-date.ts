import type { AnonymizeStrategy } from './strategy.js';

const DATE_CATEGORIES = new Set(['date', 'timestamp', 'timestamptz']);

/**
 * Truncates a date or timestamp to the first of its month (a birth date keeps its year
 * and month). An instant (timestamptz) is truncated in the rule's time zone, not the
 * session's.
 */
export const truncateDateStrategy: AnonymizeStrategy = {
  name: 'truncate-date',
  description: 'truncate a date or timestamp to the start of its month',
  transform: { kind: 'month-start' },
  problemWith: (column) =>
    DATE_CATEGORIES.has(column.category) ? undefined : `column ${column.name} is ${column.type}; "truncate-date" needs a date or timestamp`,
};
