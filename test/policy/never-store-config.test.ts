import { describe, expect, it } from 'vitest';
import { durationProblem, isZeroDuration, parseRetain } from '../../src/policy/duration.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { ruleDefinitionHash } from '../../src/policy/rule-hash.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { configProblems, oneRuleConfig } from '../helpers/config-problems.js';

/**
 * Never-store rules in the config: `never: true` and a zero `retain` go together, and such
 * a rule deletes or anonymizes, never expires. Each mistake is refused at the rule's field.
 */

const PG = '{ kind: postgres, url: "postgres://postgres@127.0.0.1:5432/test" }';
const REDIS = '{ kind: redis, url: "redis://127.0.0.1:6379" }';
const problems = (rule: string, store = PG, name = 'app') => configProblems(oneRuleConfig(name, store, rule));
const load = (rule: string) => parseConfig(oneRuleConfig('app', PG, rule), 'test.yaml', {}, STORE_KINDS);

describe('never-store rules in the config', () => {
  it('loads never: true with retain: PT0S, delete or anonymize', () => {
    const del = load('{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: PT0S, never: true, action: delete }');
    expect(del.rules[0]).toMatchObject({ id: 'face-data', never: true, retain: 'PT0S', action: 'delete' });
    const anon = load(
      '{ id: face-columns, store: app, table: accounts, anchor: created_at, retain: PT0S, never: true, action: anonymize, anonymize: { face_template: "null" }, where: { face_template: { not: null } } }',
    );
    expect(anon.rules[0]).toMatchObject({ never: true, action: 'anonymize' });
    // Every other rule says never: false.
    expect(load('{ id: logs, store: app, table: logs, anchor: at, retain: P6M, action: delete }').rules[0]!.never).toBe(false);
  });

  it('refuses never: true with a period, naming the rule and retain', () => {
    expect(problems('{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: P30D, never: true, action: delete }')).toEqual([
      { path: 'rules[0].retain', message: 'rule face-data says never: true (this data is never stored), so retain must be PT0S, not "P30D"' },
    ]);
  });

  it('refuses a zero retain without never: true, and points at never: true', () => {
    for (const zero of ['PT0S', 'P0D', 'PT0H0M']) {
      expect(problems(`{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: ${zero}, action: delete }`)).toEqual([
        {
          path: 'rules[0].retain',
          message: `"${zero}" is zero; a retention period must be positive (rule face-data). Use never: true with retain: PT0S if the promise is that this data is never stored`,
        },
      ]);
    }
    // never: false says the same as leaving it out.
    expect(problems('{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: PT0S, never: false, action: delete }')).toHaveLength(1);
  });

  it('refuses a never-store rule that expires', () => {
    const found = problems('{ id: face-keys, store: cache, keys: "face:*", anchor: at, anchorUnit: ms, retain: PT0S, never: true, action: expire }', REDIS, 'cache');
    expect(found).toEqual([
      { path: 'rules[0].action', message: 'rule face-keys says never: true, which cannot expire: a TTL keeps the data until it fires; use delete, or anonymize the columns that hold it' },
    ]);
    // The same rule deleting is fine: any kind that deletes takes never-store rules.
    expect(problems('{ id: face-keys, store: cache, keys: "face:*", anchor: at, anchorUnit: ms, retain: PT0S, never: true, action: delete }', REDIS, 'cache')).toEqual([]);
  });

  it('refuses a never-store rule that archives: the moved rows would still be stored', () => {
    const rule = (action: string) =>
      `{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: PT0S, never: true, action: ${action}, archiveTable: archive.face_templates }`;
    expect(problems(rule('archive'))).toEqual([
      {
        path: 'rules[0].action',
        message: 'rule face-data says never: true, which cannot archive: moving the data to another table keeps it stored; use delete, or anonymize the columns that hold it',
      },
    ]);
    // The same rule archiving without never: true is an ordinary archive rule (with a period).
    expect(problems(rule('archive').replace('retain: PT0S, never: true', 'retain: P1Y'))).toEqual([]);
  });

  it('refuses never that is not a boolean', () => {
    expect(problems('{ id: face-data, store: app, table: face_templates, anchor: created_at, retain: PT0S, never: "yes", action: delete }')).toEqual([
      { path: 'rules[0].never', message: 'never must be true or false' },
    ]);
  });

  it('still refuses a zero schedule and a zero period anywhere but a rule', () => {
    expect(problems('{ id: logs, store: app, table: logs, anchor: at, retain: P6M, action: delete, schedule: PT0S }')).toEqual([
      { path: 'rules[0].schedule', message: '"PT0S" is zero; a retention period must be positive' },
    ]);
    expect(durationProblem('PT0S')).toBe('"PT0S" is zero; a retention period must be positive');
    expect(() => parseRetain({ retain: 'PT0S', never: false })).toThrow(/is zero/);
    expect(parseRetain({ retain: 'PT0S', never: true }).as('milliseconds')).toBe(0);
    expect(isZeroDuration('P0Y')).toBe(true);
    expect(isZeroDuration('PT1S')).toBe(false);
    expect(isZeroDuration('nonsense')).toBe(false);
  });
});

describe('never in the rule definition hash', () => {
  it('changes with never, and keeps the hash a rule had before the field existed (never: false is left out)', () => {
    const config = load('{ id: logs, store: app, table: logs, anchor: at, retain: P6M, action: delete }');
    const r = config.rules[0]!;
    const { hash: _hash, never: _never, ...before } = r;
    // What the hash was before the field existed: the same rule without `never`.
    expect(ruleDefinitionHash(before as never, config.stores.app)).toBe(r.hash);
    expect(ruleDefinitionHash({ ...before, never: true } as never, config.stores.app)).not.toBe(r.hash);
  });
});
