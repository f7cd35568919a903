import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { DEFAULT_REQUEST_POLICY } from '../../src/policy/request-policy.js';

/** The `requests:` section: its defaults, its two deadline forms, and its errors by field path. No services. */

const base = {
  timezone: 'Asia/Shanghai',
  redis: 'redis://127.0.0.1:6379',
  state: 'postgres://postgres@127.0.0.1:5432/test',
  stores: {},
  rules: [],
};

/** No store kinds: the section is the same whatever stores a config has. */
const NO_KINDS = [] as const;

const load = (requests?: unknown) => parseConfig(stringify(requests === undefined ? base : { ...base, requests }), 'requests.yaml', {}, NO_KINDS);

function problems(requests: unknown): string[] {
  try {
    load(requests);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('requests config', () => {
  it('defaults when the section is absent: due in one month (GDPR), no extension, no acknowledgement, records kept 24 months', () => {
    expect(load().requests).toEqual({ due: { kind: 'calendar', duration: 'P1M' }, extension: null, acknowledge: null, keep: 'P24M' });
    expect(load({}).requests).toEqual(DEFAULT_REQUEST_POLICY);
    expect(load({ keep: 'P36M' }).requests).toEqual({ ...DEFAULT_REQUEST_POLICY, keep: 'P36M' });
  });

  it('reads both deadline forms, a country, a state and an explicit list with make-up working days', () => {
    const text = `
timezone: Asia/Shanghai
redis: redis://127.0.0.1:6379
state: postgres://postgres@127.0.0.1:5432/test
stores: {}
rules: []
requests:
  due: { workingDays: 15, holidays: [2026-10-07, 2026-10-01, 2026-10-01], workdays: [2026-10-10, 2026-09-20] }
  extension: P45D
  acknowledge: { workingDays: 10, holidays: US-CA }
  keep: P24M
`;
    expect(parseConfig(text, 'requests.yaml', {}, NO_KINDS).requests).toEqual({
      due: { kind: 'workingDays', days: 15, holidays: { kind: 'dates', dates: ['2026-10-01', '2026-10-07'] }, workdays: ['2026-09-20', '2026-10-10'] },
      extension: { kind: 'calendar', duration: 'P45D' },
      acknowledge: { kind: 'workingDays', days: 10, holidays: { kind: 'region', region: 'US-CA' }, workdays: [] },
      keep: 'P24M',
    });
    expect(load({ due: { workingDays: 5 } }).requests.due).toEqual({ kind: 'workingDays', days: 5, holidays: { kind: 'none' }, workdays: [] });
    expect(load({ due: { workingDays: 15, holidays: 'CN' } }).requests.due).toEqual({ kind: 'workingDays', days: 15, holidays: { kind: 'region', region: 'CN' }, workdays: [] });
  });

  it('refuses a bad duration, naming the field', () => {
    expect(problems({ due: 'P45' })).toEqual([
      'requests.due: "P45" is not an ISO-8601 duration of days, weeks, months or years such as P45D or P1M (whole numbers only); or write a count of working days ({ workingDays: 15, holidays: CN })',
    ]);
    expect(problems({ due: 'P2000Y' })).toEqual([expect.stringMatching(/^requests\.due: "P2000Y" is longer than 1000 years/)]);
    expect(problems({ extension: 'forty-five days' })).toEqual([expect.stringMatching(/^requests\.extension: "forty-five days" is not an ISO-8601 duration/)]);
    expect(problems('P30D')).toEqual(['requests: must be a mapping of due, extension, acknowledge and keep']);
    expect(problems({ keep: 'P0D' })).toEqual([expect.stringMatching(/^requests\.keep: "P0D" is zero/)]);
    expect(problems({ due: 'PT72H' })).toEqual([expect.stringMatching(/^requests\.due: "PT72H" has hours, minutes or seconds; a deadline is counted in whole days/)]);
    expect(problems({ due: 45 })).toEqual([expect.stringMatching(/^requests\.due: must be an ISO-8601 duration \(due: P45D\) or a count of working days/)]);
  });

  it('refuses a bad number of working days, naming requests.due.workingDays', () => {
    expect(problems({ due: { workingDays: 0 } })).toEqual(['requests.due.workingDays: must be at least 1']);
    expect(problems({ acknowledge: { workingDays: 2.5 } })).toEqual(['requests.acknowledge.workingDays: must be a whole number of working days, e.g. 15']);
    expect(problems({ due: { holidays: 'CN' } })).toEqual([expect.stringMatching(/^requests\.due\.workingDays: is required: the number of working days/)]);
  });

  it('refuses an unknown country or state with the list of known ones, and suggests the upper case', () => {
    const [unknown] = problems({ due: { workingDays: 15, holidays: 'XX' } });
    expect(unknown).toMatch(/^requests\.due\.holidays: "XX" is not a country with public holiday data \(known: AD, AE, .*\bCN\b.*\bUS\b.*\)$/);
    expect(problems({ due: { workingDays: 15, holidays: 'US-ZZ' } })).toEqual([expect.stringMatching(/^requests\.due\.holidays: "US-ZZ" is not a state of US with public holiday data \(known: US-AL, .*US-CA/)]);
    expect(problems({ due: { workingDays: 15, holidays: 'cn' } })).toEqual(['requests.due.holidays: "cn" is not a country code; write CN']);
    expect(problems({ due: { workingDays: 15, holidays: 'China' } })).toEqual([expect.stringMatching(/^requests\.due\.holidays: "China" is not a country code such as CN/)]);
  });

  it('refuses an explicit date that is not a day of the calendar, naming its index', () => {
    expect(problems({ due: { workingDays: 15, holidays: ['2026-10-01', '2026-02-30'] } })).toEqual(['requests.due.holidays[1]: "2026-02-30" is not a day of the calendar']);
    expect(problems({ due: { workingDays: 15, holidays: ['1 October'] } })).toEqual(['requests.due.holidays[0]: "1 October" is not a date written YYYY-MM-DD, e.g. 2026-10-01']);
    expect(problems({ due: { workingDays: 15, workdays: ['2026-9-20'] } })).toEqual(['requests.due.workdays[0]: "2026-9-20" is not a date written YYYY-MM-DD, e.g. 2026-10-01']);
    expect(problems({ due: { workingDays: 15, holidays: '2026-10-01' } })).toEqual(['requests.due.holidays: a single date is written as a list: holidays: [2026-10-01]']);
  });

  it('refuses the two forms mixed: a duration beside workingDays, a duration as workingDays, a country inside a date list', () => {
    expect(problems({ due: { workingDays: 15, duration: 'P45D' } })).toEqual([
      'requests.due.duration: a deadline is either an ISO-8601 duration (due: P45D) or a count of working days ({ workingDays: 15, holidays: CN }), not both',
    ]);
    expect(problems({ due: { workingDays: 'P15D' } })).toEqual(['requests.due.workingDays: is a number of working days such as 15; a calendar period is written alone: due: P15D']);
    expect(problems({ due: { workingDays: 15, holidays: ['CN', '2026-10-04'] } })).toEqual([
      'requests.due.holidays[0]: a holiday list holds dates only; a country\'s holidays are written alone (holidays: CN), or list every date',
    ]);
    expect(problems({ due: { workingDays: 15, holidays: ['2026-10-10'], workdays: ['2026-10-10'] } })).toEqual([
      'requests.due.workdays[0]: 2026-10-10 is also in holidays; a day is either a holiday or a working day',
    ]);
  });

  it('refuses an unknown key with the allowed ones', () => {
    expect(problems({ dew: 'P30D' })).toEqual(['requests.dew: unknown key "dew" (allowed: due, extension, acknowledge, keep)']);
    expect(problems({ due: { workingDays: 15, holiday: 'CN' } })).toEqual(['requests.due.holiday: unknown key "holiday" (allowed: workingDays, holidays, workdays)']);
  });

  it('reports every problem of the section at once', () => {
    expect(problems({ due: 'P1', extension: { workingDays: 0 }, keep: 'P24' })).toHaveLength(3);
  });
});
