import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DateTime } from 'luxon';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { anchorLiteral, sweepAnchors, type AnchorSweepResult, type AnchorType } from './anchor-sweep.js';

/**
 * The expiry predicate against the real database at a fixed `now`: what SQL counts, what
 * it deletes and what luxon's calendar arithmetic says is due must be the same rows.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const TYPES: AnchorType[] = ['timestamptz', 'timestamp', 'date'];

/** SQL and luxon agree row for row, and the delete removed exactly what was counted. */
function expectAgreement(result: AnchorSweepResult, what = ''): void {
  expect(result.counted, `${what} rows counted`).toBe(result.dueByLuxon.length);
  expect(result.deleted, `${what} rows deleted`).toBe(result.counted);
  expect(result.kept, `${what} rows kept`).toEqual(result.notDueByLuxon);
}

/** Anchors every `step` ms over `[from, to]`, labelled by position, as literals of `type`. */
function grid(type: AnchorType, zone: string, from: string, to: string, step: number): Record<string, string> {
  const rows: Record<string, string> = {};
  const start = DateTime.fromISO(from, { zone }).toMillis();
  const end = DateTime.fromISO(to, { zone }).toMillis();
  for (let ms = start, i = 0; ms <= end; ms += step, i++) {
    const literal = anchorLiteral(type, ms, zone);
    // Dates repeat within a day; one row per distinct literal is enough.
    if (!Object.values(rows).includes(literal)) rows[`r${String(i).padStart(5, '0')}`] = literal;
  }
  return rows;
}

/** Sweeps once per type, all at once; results labelled with their type. */
function forTypes<T extends AnchorType>(types: readonly T[], sweep: (type: T) => Promise<AnchorSweepResult>): Promise<[T, AnchorSweepResult][]> {
  return Promise.all(types.map(async (type): Promise<[T, AnchorSweepResult]> => [type, await sweep(type)]));
}

describe('the expiry boundary against the database', () => {
  // New York in June: no DST change nearby, but 4 hours off UTC, so a wall-clock column
  // read as UTC would be visibly wrong.
  const zone = 'America/New_York';
  const now = '2026-06-15T12:00:00-04:00';

  it('keeps a timestamptz or timestamp row whose period ends one second from now and deletes one whose period ended one second ago', async () => {
    const results = await forTypes(['timestamptz', 'timestamp'] as const, (type) => {
      const at = (iso: string) => (type === 'timestamptz' ? `${iso}-04:00` : iso);
      return sweepAnchors(env, {
        type,
        zone,
        retain: 'P30D',
        now,
        rows: {
          'ended-1s-ago': at('2026-05-16T11:59:59'),
          'ends-now': at('2026-05-16T12:00:00'),
          'ends-in-1s': at('2026-05-16T12:00:01'),
          'ends-in-1h': at('2026-05-16T13:00:00'),
          'ended-1h-ago': at('2026-05-16T11:00:00'),
        },
      });
    });
    for (const [type, result] of results) {
      expect(result.kept, type).toEqual(['ends-in-1h', 'ends-in-1s']);
      expect(result.counted, type).toBe(3);
      expectAgreement(result, type);
    }
  });

  it('keeps a timestamptz row whose period ends half a millisecond from now', async () => {
    // Sub-millisecond digits past the bound: left for the next sweep, never taken early.
    const result = await sweepAnchors(env, {
      type: 'timestamptz',
      zone,
      retain: 'P30D',
      now,
      rows: {
        'ends-in-half-a-ms': '2026-05-16T12:00:00.0005-04:00',
        'ended-half-a-ms-ago': '2026-05-16T11:59:59.9995-04:00',
      },
    });
    expect(result.kept).toEqual(['ends-in-half-a-ms']);
    expect(result.deleted).toBe(1);
  });

  it('keeps a date row until the midnight its period ends, in the rule zone', async () => {
    // 2026-05-16 + P30D is due at 2026-06-15 00:00 New York time, 04:00 UTC.
    const rows = { 'may-16': '2026-05-16', 'may-17': '2026-05-17', 'may-15': '2026-05-15' };
    const [before, at] = await Promise.all([
      sweepAnchors(env, { type: 'date', zone, retain: 'P30D', now: '2026-06-15T03:59:59Z', rows }),
      sweepAnchors(env, { type: 'date', zone, retain: 'P30D', now: '2026-06-15T04:00:00Z', rows }),
    ]);
    expect(before.kept).toEqual(['may-16', 'may-17']);
    expectAgreement(before, 'one second before');
    expect(at.kept).toEqual(['may-17']);
    expectAgreement(at, 'at midnight');
  });

  it('agrees with luxon on every timestamptz, timestamp and date anchor around a fixed-length boundary', async () => {
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone,
        retain: 'PT36H',
        now,
        rows: grid(type, zone, '2026-06-12T00:00:00', '2026-06-15T00:00:00', type === 'date' ? DAY : 11 * MINUTE + 1_000),
      }),
    );
    for (const [type, result] of results) {
      expect(result.dueByLuxon.length, type).toBeGreaterThan(0);
      expect(result.notDueByLuxon.length, type).toBeGreaterThan(0);
      expectAgreement(result, type);
    }
  });
});

describe('month ends', () => {
  // 2027 is not a leap year: Aug 29, 30 and 31 plus P6M all land on Feb 28.
  const now = '2027-02-28T12:00:00Z';
  const rows = (type: AnchorType) => {
    const at = (wall: string) => (type === 'timestamptz' ? `${wall}Z` : type === 'date' ? wall.slice(0, 10) : wall);
    return {
      'aug-28-12:00': at('2026-08-28T12:00:00'),
      'aug-28-12:00:01': at('2026-08-28T12:00:01'),
      'aug-29-18:00': at('2026-08-29T18:00:00'),
      'aug-30-11:00': at('2026-08-30T11:00:00'),
      'aug-31-12:00': at('2026-08-31T12:00:00'),
      'aug-31-12:00:01': at('2026-08-31T12:00:01'),
      'sep-01-00:00': at('2026-09-01T00:00:00'),
    };
  };

  it('deletes a timestamptz or timestamp row of Aug 31 on Feb 28 under P6M, but keeps Aug 29 18:00 until 18:00', async () => {
    const results = await forTypes(['timestamptz', 'timestamp'] as const, (type) =>
      sweepAnchors(env, { type, zone: 'UTC', retain: 'P6M', now, rows: rows(type) }),
    );
    for (const [type, result] of results) {
      expect(result.kept, type).toEqual(['aug-28-12:00:01', 'aug-29-18:00', 'aug-31-12:00:01', 'sep-01-00:00']);
      expectAgreement(result, type);
    }
  });

  it('deletes date rows of Aug 28 to 31 from Feb 28 00:00 under P6M, and Sep 1 not before Mar 1', async () => {
    const [result, dayBefore] = await Promise.all([
      sweepAnchors(env, { type: 'date', zone: 'UTC', retain: 'P6M', now, rows: rows('date') }),
      sweepAnchors(env, { type: 'date', zone: 'UTC', retain: 'P6M', now: '2027-02-27T23:59:59Z', rows: rows('date') }),
    ]);
    expect(result.kept).toEqual(['sep-01-00:00']);
    expectAgreement(result, 'on Feb 28');
    // Aug 28 .. 31 are all due on Feb 28, none before.
    expect(dayBefore.counted).toBe(0);
    expectAgreement(dayBefore, 'on Feb 27');
    expectAgreement(dayBefore);
  });

  it('agrees with luxon on every timestamptz, timestamp and date anchor around the end of August under P6M', async () => {
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone: 'UTC',
        retain: 'P6M',
        now,
        rows: grid(type, 'UTC', '2026-08-25T00:00:00', '2026-09-03T00:00:00', type === 'date' ? DAY : 17 * MINUTE + 1_000),
      }),
    );
    for (const [type, result] of results) {
      expect(result.dueByLuxon.length, type).toBeGreaterThan(0);
      expect(result.notDueByLuxon.length, type).toBeGreaterThan(0);
      expectAgreement(result, type);
    }
  });
});

describe('leap days', () => {
  it('deletes a row of Feb 29 on Feb 28 of the next year under P1Y, whatever the anchor type', async () => {
    const results = await forTypes(TYPES, (type) => {
      const at = (wall: string) => (type === 'timestamptz' ? `${wall}Z` : type === 'date' ? wall.slice(0, 10) : wall);
      return sweepAnchors(env, {
        type,
        zone: 'UTC',
        retain: 'P1Y',
        now: '2025-02-28T00:00:00Z',
        rows: {
          'feb-28': at('2024-02-28T00:00:00'),
          'feb-29': at('2024-02-29T00:00:00'),
          'mar-01': at('2024-03-01T00:00:00'),
          ...(type === 'date' ? {} : { 'feb-29-00:00:01': at('2024-02-29T00:00:01') }),
        },
      });
    });
    for (const [type, result] of results) {
      expect(result.kept, type).toEqual(type === 'date' ? ['mar-01'] : ['feb-29-00:00:01', 'mar-01']);
      expectAgreement(result, type);
    }
  });

  it('agrees with luxon on every timestamptz, timestamp and date anchor around Feb 29 under P1Y in Berlin', async () => {
    const zone = 'Europe/Berlin';
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone,
        retain: 'P1Y',
        now: '2025-02-28T06:00:00+01:00',
        rows: grid(type, zone, '2024-02-26T00:00:00', '2024-03-03T00:00:00', type === 'date' ? DAY : 13 * MINUTE + 1_000),
      }),
    );
    for (const [type, result] of results) {
      expect(result.dueByLuxon.length, type).toBeGreaterThan(0);
      expect(result.notDueByLuxon.length, type).toBeGreaterThan(0);
      expectAgreement(result, type);
    }
  });
});

describe('a non-UTC zone across a DST change', () => {
  const zone = 'Europe/Berlin';

  it('counts P1D as a calendar day of 23 hours across the spring change for timestamptz and timestamp anchors', async () => {
    // Berlin springs forward on 2026-03-29: Mar 28 12:00 (+01:00) + P1D = Mar 29 12:00 (+02:00),
    // 23 hours later. A 24-hour cutoff would keep the noon row an hour past its date.
    const results = await forTypes(['timestamptz', 'timestamp'] as const, (type) => {
      const at = (wall: string) => (type === 'timestamptz' ? `${wall}+01:00` : wall);
      return sweepAnchors(env, {
        type,
        zone,
        retain: 'P1D',
        now: '2026-03-29T12:00:00+02:00',
        rows: {
          'mar-28-11:00': at('2026-03-28T11:00:00'),
          'mar-28-12:00': at('2026-03-28T12:00:00'),
          'mar-28-12:00:01': at('2026-03-28T12:00:01'),
          'mar-28-13:00': at('2026-03-28T13:00:00'),
        },
      });
    });
    for (const [type, result] of results) {
      expect(result.kept, type).toEqual(['mar-28-12:00:01', 'mar-28-13:00']);
      expectAgreement(result, type);
    }
  });

  it('reads a date anchor as midnight in the rule zone, not in UTC', async () => {
    // 2026-03-28 is 2026-03-27T23:00Z in Berlin; + P1D is Mar 29 00:00 Berlin = Mar 28 23:00Z.
    const rows = { 'mar-27': '2026-03-27', 'mar-28': '2026-03-28', 'mar-29': '2026-03-29' };
    const [before, at] = await Promise.all([
      sweepAnchors(env, { type: 'date', zone, retain: 'P1D', now: '2026-03-28T22:59:59Z', rows }),
      sweepAnchors(env, { type: 'date', zone, retain: 'P1D', now: '2026-03-28T23:00:00Z', rows }),
    ]);
    expect(before.kept).toEqual(['mar-28', 'mar-29']);
    expectAgreement(before, 'one second before');
    expect(at.kept).toEqual(['mar-29']);
    expectAgreement(at, 'at midnight');
  });

  it('agrees with luxon on every timestamptz, timestamp and date anchor around the spring change under P1D', async () => {
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone,
        retain: 'P1D',
        now: '2026-03-29T02:30:00+02:00',
        rows: grid(type, zone, '2026-03-26T12:00:00', '2026-03-30T12:00:00', type === 'date' ? DAY : 11 * MINUTE + 1_000),
      }),
    );
    for (const [type, result] of results) {
      expect(result.dueByLuxon.length, type).toBeGreaterThan(0);
      expect(result.notDueByLuxon.length, type).toBeGreaterThan(0);
      expectAgreement(result, type);
    }
  });

  it('agrees with luxon on every timestamptz, timestamp and date anchor around the autumn change under P1M', async () => {
    // Berlin falls back on 2026-10-25: 02:00-03:00 happens twice.
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone,
        retain: 'P1M',
        now: '2026-11-25T02:30:00+01:00',
        rows: grid(type, zone, '2026-10-23T12:00:00', '2026-10-27T12:00:00', type === 'date' ? DAY : 11 * MINUTE + 1_000),
      }),
    );
    for (const [type, result] of results) {
      expect(result.dueByLuxon.length, type).toBeGreaterThan(0);
      expect(result.notDueByLuxon.length, type).toBeGreaterThan(0);
      expectAgreement(result, type);
    }
  });
});

describe('NULL anchors', () => {
  it('never expire, however long the period has run, whatever the anchor type', async () => {
    const old = { timestamptz: '2000-01-01T00:00:00Z', timestamp: '2000-01-01T00:00:00', date: '2000-01-01' };
    const results = await forTypes(TYPES, (type) =>
      sweepAnchors(env, {
        type,
        zone: 'UTC',
        retain: 'P1D',
        now: '2030-01-01T00:00:00Z',
        rows: { 'null-1': null, 'null-2': null, old: old[type] },
      }),
    );
    for (const [type, result] of results) {
      expect(result.kept, type).toEqual(['null-1', 'null-2']);
      expect(result.counted, type).toBe(1);
      expectAgreement(result, type);
    }
  });

  it('keeps NULL-anchored rows through a full run of the queue', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`INSERT INTO ${env.schema}.events (at) SELECT CASE WHEN g % 3 = 0 THEN NULL ELSE now() - interval '400 days' END FROM generate_series(1, 300) g`);
    const config = env.config([{ id: 'events', table: 'events', anchor: 'at', retain: 'P1D', action: 'delete', batchSize: 100, limits: { maxFraction: 1 } }]);
    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(200);
    const left = await env.sql<{ n: string; nulls: string }>(`SELECT count(*) AS n, count(*) FILTER (WHERE at IS NULL) AS nulls FROM ${env.schema}.events`);
    expect(Number(left[0]!.n)).toBe(100);
    expect(Number(left[0]!.nulls)).toBe(100);
  });
});
