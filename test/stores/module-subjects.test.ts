import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/policy/load-config.js';
import { moduleKind } from '../../src/stores/module/kind.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { configProblems, oneRuleConfig } from '../helpers/config-problems.js';

/**
 * A module store cannot select one person's data: a rule on it that names the person is
 * refused when the config loads, so an erasure request or a hold never silently misses it.
 */

const yaml = (rule: string) => oneRuleConfig('tickets', '{ kind: module, module: ./stores/json-records.js }', rule);
const problems = configProblems;

describe('subjects on a module store', () => {
  it('refuses subject: on a module rule at load, under the rule path, naming the store', () => {
    expect(moduleKind.capabilities.subjects).toBe(false);
    expect(problems(yaml('{ id: tickets, store: tickets, target: { collection: tickets }, anchor: closedAt, subject: owner_id, retain: P1Y, action: delete }'))).toEqual([
      {
        path: 'rules[0].subject',
        message: "a module store cannot select one person's data (store tickets), so erasure requests and holds could not reach this rule",
      },
    ]);
  });

  it('loads the same rule without subject:, with no subject', () => {
    const config = parseConfig(yaml('{ id: tickets, store: tickets, target: { collection: tickets }, anchor: closedAt, retain: P1Y, action: delete }'), 'test.yaml', {}, STORE_KINDS);
    expect(config.rules[0]).toMatchObject({ kind: 'module', subject: null });
  });
});
