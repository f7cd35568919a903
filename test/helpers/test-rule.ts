import type { Rule } from '../../src/policy/rule.js';

/**
 * A rule as the loader would produce it for a store test: deletes, keeps six months, runs
 * by hand, one batch, no limits, UTC, no subject; `fields` say which rule, store and
 * target, `overrides` change the rest.
 */
export function testRule<Target>(fields: Pick<Rule<Target>, 'id' | 'store' | 'kind' | 'target'>, overrides: Partial<Rule<Target>> = {}): Rule<Target> {
  return {
    hash: 'test',
    source: null,
    retain: 'P6M',
    never: false,
    action: 'delete',
    subject: null,
    schedule: { kind: 'manual' },
    anonymize: [],
    batchSize: 20_000,
    timezone: 'UTC',
    limits: { maxRowsPerRun: null, maxFraction: 1 },
    ...fields,
    ...overrides,
  };
}
