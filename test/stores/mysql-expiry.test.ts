import { DateTime, Duration } from 'luxon';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { expired } from '../../src/stores/selection.js';
import { DATABASE_URL } from '../helpers/test-env.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const ALL = { after: null, upTo: null };

let env: MysqlEnv;
let postgres: pg.Pool;
beforeAll(() => {
  postgres = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
});
afterAll(() => postgres.end());
beforeEach(async () => {
  env = await createMysqlEnv();
});
afterEach(() => env.cleanup());

type AnchorType = 'datetime(6)' | 'date' | 'timestamp(6)';

/**
 * The instant PostgreSQL gives a wall-clock reading in `zone` (`timestamp AT TIME ZONE`):
 * the oracle for DATETIME/DATE anchors, so a MySQL rule selects what a PostgreSQL one does.
 */
async function postgresInstant(reading: string, zone: string): Promise<{ ms: number; micros: number } | null> {
  try {
    const { rows } = await postgres.query<{ us: string }>(`SELECT (extract(epoch FROM ($1::timestamp AT TIME ZONE $2)) * 1000000)::bigint::text AS us`, [reading, zone]);
    return splitMicros(BigInt(rows[0]!.us));
  } catch {
    return null; // not a date PostgreSQL reads (0000-00-00): never due
  }
}

/** Epoch microseconds as whole milliseconds plus the microseconds beyond them. */
function splitMicros(us: bigint): { ms: number; micros: number } {
  const ms = us / 1000n - (us % 1000n < 0n ? 1n : 0n);
  return { ms: Number(ms), micros: Number(us - ms * 1000n) };
}

/** A UTC reading `2026-02-28 23:00:00.000001` as an instant with its microseconds. */
function utcInstant(literal: string): { ms: number; micros: number } {
  const [whole, fraction = ''] = literal.split('.');
  const base = DateTime.fromSQL(whole!, { zone: 'UTC' }).toMillis();
  return splitMicros(BigInt(base) * 1000n + BigInt(fraction.padEnd(6, '0')));
}

let tables = 0;

/**
 * Puts `rows` (label -> MariaDB literal: a UTC reading for TIMESTAMP, a wall-clock
 * reading in `zone` otherwise) in a fresh table, counts and deletes what a delete rule
 * matches at `now`, and works out with luxon which rows are due.
 */
async function sweep(spec: { type: AnchorType; zone: string; retain: string; now: string; rows: Record<string, string | null> }) {
  const table = `anchors_${++tables}`;
  await env.sql(`CREATE TABLE ${table} (id int AUTO_INCREMENT PRIMARY KEY, label varchar(64) NOT NULL UNIQUE, at ${spec.type} NULL)`);
  const labels = Object.keys(spec.rows);
  for (const label of labels) await env.sql(`INSERT INTO ${table} (label, at) VALUES (?, ?)`, [label, spec.rows[label]]);
  const rule = env.rule({ retain: spec.retain, timezone: spec.zone, target: { table: { schema: null, name: table }, anchorZone: { name: spec.zone, from: 'rule' } } });
  const now = DateTime.fromISO(spec.now, { setZone: true });
  const selection = expired(planSweep(rule, now.toJSDate()).ranges);
  const store = env.store();
  const counted = await store.count(rule, selection, CONTEXT);
  const dry = (await store.apply({ rule, selection, keyRange: ALL, dryRun: true, context: CONTEXT })).rows;
  const deleted = (await store.apply({ rule, selection, keyRange: ALL, dryRun: false, context: CONTEXT })).rows;
  const left = await env.sql<{ label: string }>(`SELECT label FROM ${table}`);
  const retain = Duration.fromISO(spec.retain);
  const due: string[] = [];
  for (const label of labels) {
    const literal = spec.rows[label];
    if (literal === null || literal === undefined) continue;
    const anchor = spec.type === 'timestamp(6)' ? utcInstant(literal) : await postgresInstant(spec.type === 'date' ? `${literal} 00:00:00` : literal, spec.zone);
    if (anchor === null) continue;
    // Due when anchor + retain <= now, to the microsecond: what is beyond the millisecond moves the expiry too.
    const expiry = DateTime.fromMillis(anchor.ms, { zone: spec.zone }).plus(retain).toMillis();
    if (expiry < now.toMillis() || (expiry === now.toMillis() && anchor.micros === 0)) due.push(label);
  }
  return { counted, dry, deleted, kept: left.map((r) => r.label).sort(), due: due.sort(), unjudged: await store.unjudged(rule) };
}

/** Readings every `stepMinutes` from `from` (inclusive) to `to` (exclusive), labelled by themselves. */
function readings(from: string, to: string, stepMinutes: number): Record<string, string> {
  const rows: Record<string, string> = {};
  for (let t = DateTime.fromSQL(from, { zone: 'UTC' }); t < DateTime.fromSQL(to, { zone: 'UTC' }); t = t.plus({ minutes: stepMinutes })) {
    const text = t.toFormat('yyyy-MM-dd HH:mm:ss');
    rows[text] = text;
  }
  return rows;
}

describe('mysql store: exact expiry', () => {
  it('deletes a DATETIME anchor exactly at the end of its period at a month end and keeps one a millisecond (or a microsecond) later', async () => {
    const result = await sweep({
      type: 'datetime(6)',
      zone: 'UTC',
      retain: 'P6M',
      now: '2027-02-28T12:00:00Z',
      rows: {
        due: '2026-08-31 12:00:00.000000',
        'micro-after': '2026-08-31 12:00:00.000001',
        'milli-after': '2026-08-31 12:00:00.001000',
        old: '2025-01-01 00:00:00',
        // Aug 29 18:00 + P6M = Feb 28 18:00: six hours to go, although older than `due`.
        'not-yet': '2026-08-29 18:00:00',
        'null-anchor': null,
      },
    });
    expect(result.due).toEqual(['due', 'old']);
    expect(result.counted).toBe(2);
    expect(result.dry).toBe(2);
    expect(result.deleted).toBe(2);
    expect(result.kept).toEqual(['micro-after', 'milli-after', 'not-yet', 'null-anchor']);
    expect(result.unjudged).toEqual({ 'null anchor': 1 });
  });

  it('reads DATE anchors as midnight in the anchor zone at month ends', async () => {
    const rows = { ...readings('2026-08-27 00:00:00', '2026-09-03 00:00:00', 24 * 60) };
    const dates = Object.fromEntries(Object.values(rows).map((r) => [r.slice(0, 10), r.slice(0, 10)]));
    const result = await sweep({ type: 'date', zone: 'America/New_York', retain: 'P6M', now: '2027-02-28T05:00:00Z', rows: dates });
    expect(result.due.length).toBeGreaterThan(0);
    expect(result.kept.length).toBeGreaterThan(0);
    expect(result.counted).toBe(result.due.length);
    expect(result.deleted).toBe(result.due.length);
    expect(result.kept).toEqual(Object.keys(dates).filter((d) => !result.due.includes(d)).sort());
  });

  // Cut-offs inside the spring-forward gap and inside the repeated fall-back hour (PT1H),
  // and a calendar day later (P1D).
  for (const [name, retain, now, from, to] of [
    ['spring forward', 'P1D', '2026-03-30T00:40:00Z', '2026-03-28 22:00:00', '2026-03-29 06:00:00'],
    ['spring forward', 'PT1H', '2026-03-29T02:15:00Z', '2026-03-28 22:00:00', '2026-03-29 06:00:00'],
    ['fall back', 'P1D', '2026-10-26T00:40:00Z', '2026-10-24 22:00:00', '2026-10-25 06:00:00'],
    ['fall back', 'PT1H', '2026-10-25T01:45:00Z', '2026-10-24 22:00:00', '2026-10-25 06:00:00'],
  ] as const) {
    it(`selects the DATETIME readings PostgreSQL's AT TIME ZONE would, ${retain} after the ${name} in Europe/Berlin`, async () => {
      const rows = readings(from, to, 10);
      const result = await sweep({ type: 'datetime(6)', zone: 'Europe/Berlin', retain, now, rows });
      expect(result.due.length).toBeGreaterThan(5);
      expect(result.kept.length).toBeGreaterThan(5);
      expect(result.counted).toBe(result.due.length);
      expect(result.deleted).toBe(result.due.length);
      expect(result.kept).toEqual(Object.keys(rows).filter((l) => !result.due.includes(l)).sort());
    });
  }

  it('maps one instant range to two reading intervals where a DST gap repeats instants', async () => {
    // PT1H before 02:15Z: instants up to 01:15Z, i.e. readings up to 02:15 (in the gap, read
    // as CET) and 03:00-03:15 (CEST); 02:20 and 03:20 are 01:20Z and stay.
    const result = await sweep({
      type: 'datetime(6)',
      zone: 'Europe/Berlin',
      retain: 'PT1H',
      now: '2026-03-29T02:15:00Z',
      rows: { a: '2026-03-29 01:59:59', gap: '2026-03-29 02:15:00', 'gap-later': '2026-03-29 02:20:00', after: '2026-03-29 03:15:00', 'after-later': '2026-03-29 03:20:00' },
    });
    expect(result.due).toEqual(['a', 'after', 'gap']);
    expect(result.deleted).toBe(3);
    expect(result.kept).toEqual(['after-later', 'gap-later']);
  });

  it('compares TIMESTAMP anchors as UTC instants whatever the session zone of the server', async () => {
    await env.sql(`SET GLOBAL time_zone = '+05:00'`);
    try {
      const result = await sweep({
        type: 'timestamp(6)',
        zone: 'Europe/Berlin',
        retain: 'P1M',
        now: '2026-03-31T22:00:00Z', // Apr 1 00:00 CEST
        rows: { due: '2026-02-28 23:00:00', 'micro-after': '2026-02-28 23:00:00.000001', old: '2026-01-01 00:00:00' },
      });
      expect(result.due).toEqual(['due', 'old']);
      expect(result.deleted).toBe(2);
      expect(result.kept).toEqual(['micro-after']);
    } finally {
      await env.sql(`SET GLOBAL time_zone = 'SYSTEM'`);
    }
  });

  it('never deletes zero or invalid dates, and counts them as malformed anchors', async () => {
    await env.sql(`SET SESSION sql_mode = 'ALLOW_INVALID_DATES'`);
    try {
      const result = await sweep({
        type: 'datetime(6)',
        zone: 'UTC',
        retain: 'P1D',
        now: '2027-01-01T00:00:00Z',
        rows: { zero: '0000-00-00 00:00:00', 'zero-day': '2026-02-00 10:00:00', 'invalid-day': '2026-02-31 10:00:00', due: '2026-01-01 00:00:00', none: null },
      });
      expect(result.deleted).toBe(1);
      expect(result.kept).toEqual(['invalid-day', 'none', 'zero', 'zero-day']);
      expect(result.unjudged).toEqual({ 'null anchor': 1, 'malformed anchor': 3 });
    } finally {
      await env.sql(`SET SESSION sql_mode = DEFAULT`);
    }
  });
});
