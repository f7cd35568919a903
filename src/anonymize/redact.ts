import type { AnonymizeStrategy } from './strategy.js';

/** The fixed marker written by `redact`; readers can tell a redacted value from data. */
export const REDACTED = '[redacted]';

/** Replaces a text value with a fixed marker; NULL stays NULL (there was nothing to hide). */
export const redactStrategy: AnonymizeStrategy = {
  name: 'redact',
  description: `replace text with the marker ${JSON.stringify(REDACTED)} (NULL stays NULL)`,
  transform: { kind: 'constant', value: REDACTED },
  problemWith: (column) => {
    if (column.category !== 'text') return `column ${column.name} is ${column.type}; "redact" writes text`;
    if (column.maxLength !== null && column.maxLength < REDACTED.length) {
      return `column ${column.name} is ${column.type}, too short for ${JSON.stringify(REDACTED)}`;
    }
    return undefined;
  },
};
