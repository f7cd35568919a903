import type { AnonymizeStrategy } from './strategy.js';

/** Replaces the value with NULL: the simplest irreversible erasure. */
export const nullStrategy: AnonymizeStrategy = {
  name: 'null',
  description: 'set the column to NULL (the column must allow NULL)',
  transform: { kind: 'null' },
  problemWith: (column) =>
    column.nullable ? undefined : `column ${column.name} is NOT NULL, so "null" cannot be written; use "redact" or "hmac"`,
};
