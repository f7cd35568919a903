import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DateTime } from 'luxon';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, onTestFinished } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { addHold } from '../../src/executor/place-hold.js';
import type { Config } from '../../src/policy/config.js';
import { inRanges } from '../../src/policy/expiry.js';
import { planSweep, rangesFromJson } from '../../src/planner/plan-sweep.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { SweepRecord } from '../../src/state/sweeps.js';
import { sqlRule } from '../../src/stores/sql/sql-target.js';
import { expired } from '../../src/stores/selection.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain } from '../cli/cli-harness.js';
import { plannedSweep } from '../executor/planned-sweep.js';

/**
 * A table range-partitioned by month on its anchor, with a composite primary key
 * `(id, at)` as partitioned tables need, swept by a P6M rule: the months wholly past
 * their period go as DROPs, the month straddling the boundary and the DEFAULT partition
 * (rows older than the oldest month) are deleted row by row, the rest stay. Every outcome
 * is compared row by row with the rows that are expired at the sweep's `now`.
 */

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const RULE = { id: 'logs', table: 'logs', anchor: 'at', key: 'id', retain: 'P6M', action: 'delete', subject: 'user_id', batchSize: 100 };

/** One partition per month, from `from` months back to `to` months ahead of this month (UTC). */
interface Month {
  name: string;
  from: DateTime;
  to: DateTime;
}

async function thisMonth(): Promise<DateTime> {
  const rows = await env.sql<{ now: Date }>('SELECT now() AS now');
  return DateTime.fromJSDate(rows[0]!.now, { zone: 'UTC' }).startOf('month');
}

/**
 * `logs` partitioned by month from 10 months back to next month, plus a DEFAULT partition;
 * one row every 7 hours for 13.4 months back (the oldest in DEFAULT) and a few in the
 * future, whole seconds (so JavaScript's milliseconds judge them as PostgreSQL does).
 */
async function partitionedLogs(options: { anchorType?: string } = {}): Promise<Month[]> {
  const type = options.anchorType ?? 'timestamptz';
  const s = env.schema;
  await env.sql(`CREATE TABLE ${s}.logs (id bigint NOT NULL, at ${type} NOT NULL, user_id text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
  const start = await thisMonth();
  const months: Month[] = [];
  for (let i = -10; i <= 1; i++) {
    const from = start.plus({ months: i });
    const month = { name: `logs_${from.toFormat('yyyy_MM')}`, from, to: from.plus({ months: 1 }) };
    const literal = (d: DateTime) => (type === 'timestamptz' ? d.toISO() : d.toFormat('yyyy-MM-dd HH:mm:ss'));
    await env.sql(`CREATE TABLE ${s}.${month.name} PARTITION OF ${s}.logs FOR VALUES FROM ('${literal(from)}') TO ('${literal(month.to)}')`);
    months.push(month);
  }
  await env.sql(`CREATE TABLE ${s}.logs_default PARTITION OF ${s}.logs DEFAULT`);
  const now = type === 'timestamptz' ? `date_trunc('second', now())` : `date_trunc('second', now() AT TIME ZONE 'UTC')`;
  await env.sql(`INSERT INTO ${s}.logs (id, at, user_id) SELECT g, ${now} - g * interval '7 hours', 'u' || (g % 7) FROM generate_series(1, 1400) g`);
  await env.sql(`INSERT INTO ${s}.logs (id, at, user_id) SELECT 2000 + g, ${now} + g * interval '1 day', 'u1' FROM generate_series(1, 5) g`);
  await env.sql(`ANALYZE ${s}.logs`);
  return months;
}

interface Row {
  id: string;
  at: Date;
  user_id: string;
  part: string;
}

const allRows = async (): Promise<Row[]> =>
  env.sql<Row>(`SELECT id::text, at, user_id, tableoid::regclass::text AS part FROM ${env.schema}.logs ORDER BY id`);

const partitionsLeft = async (): Promise<string[]> =>
  (await env.sql<{ relname: string }>(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = '${env.schema}.logs'::regclass ORDER BY 1`)).map(
    (r) => r.relname,
  );

/** The rows expired at the sweep's `now`, by the sweep's own ranges. */
function expiredAt(sweep: SweepRecord, rows: readonly Row[]): Set<string> {
  const ranges = rangesFromJson(sweep.ranges);
  return new Set(rows.filter((r) => inRanges(ranges, r.at.getTime())).map((r) => r.id));
}

/** Months whose whole range is expired at the sweep's `now` (the first range is open below). */
function whollyExpiredMonths(sweep: SweepRecord, months: readonly Month[]): string[] {
  const first = rangesFromJson(sweep.ranges)[0]!;
  return months.filter((m) => m.to.toMillis() <= first.to).map((m) => m.name);
}

interface BatchEntry {
  rows: number;
  dropped?: { partition: string; rows: number }[];
  partitionKept?: { partition: string; reason: string }[];
  held?: number;
}

async function batchEntries(sweepId: string): Promise<BatchEntry[]> {
  const rows = await env.sql<{ entry: { event: string; rows: number } }>(
    `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 AND entry->>'event' = 'batch' ORDER BY seq`,
    [sweepId],
  );
  return rows.map((r) => r.entry);
}

/** Every partition the sweep's batches dropped, with the rows each held, as audited. */
const droppedIn = (entries: readonly BatchEntry[]) => entries.flatMap((e) => e.dropped ?? []);
/** Every planned partition a batch deleted row by row instead, and why, as audited. */
const keptIn = (entries: readonly BatchEntry[]) => entries.flatMap((e) => e.partitionKept ?? []);

const run = (runtime: Runtime, config: Config, options: { dryRun?: boolean; confirm?: string } = {}) =>
  runSweeps(runtime, config.rules, { connection: env.redis(), dryRun: options.dryRun ?? false, actor: 'test', concurrency: 2, ...(options.confirm ? { confirm: options.confirm } : {}) });

const qualifiedName = (name: string) => `${env.schema}.${name}`;

describe('sweeping a table range-partitioned by its anchor', () => {
  it('drops exactly the wholly expired months, deletes the expired rows of the straddling month and DEFAULT, keeps the rest', async () => {
    const months = await partitionedLogs();
    const before = await allRows();
    const perPartition = new Map<string, number>();
    for (const r of before) perPartition.set(r.part, (perPartition.get(r.part) ?? 0) + 1);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);

    const [result] = (await run(runtime, config)).swept;
    const sweep = result!.sweep;
    expect(sweep.status).toBe('done');
    const gone = expiredAt(sweep, before);
    const dropped = whollyExpiredMonths(sweep, months);
    expect(dropped.length).toBeGreaterThanOrEqual(3);

    // The catalog: the dropped months are gone, every other partition is still there.
    expect(await partitionsLeft()).toEqual([...months.filter((m) => !dropped.includes(m.name)).map((m) => m.name), 'logs_default'].sort());
    // The rows: exactly the unexpired ones are left, in the straddling month and DEFAULT too.
    const after = await allRows();
    expect(after.map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    const straddling = months.find((m) => !dropped.includes(m.name) && before.some((r) => r.part === qualifiedName(m.name) && gone.has(r.id)))!;
    expect(before.some((r) => r.part === qualifiedName(straddling.name) && !gone.has(r.id))).toBe(true);
    expect(before.some((r) => r.part === qualifiedName('logs_default') && gone.has(r.id))).toBe(true);
    expect(sweep.rowsAffected).toBe(gone.size);

    // The audit: the months go in one drop batch, whose entry names each partition with the
    // rows it held, exactly; the batch's rows are their sum.
    const entries = await batchEntries(sweep.id);
    const drops = entries.filter((e) => e.dropped);
    expect(drops).toHaveLength(1);
    expect(drops[0]!.dropped!.map((d) => d.partition)).toEqual(dropped.map(qualifiedName));
    for (const d of drops[0]!.dropped!) expect(d.rows).toBe(perPartition.get(d.partition));
    expect(drops[0]!.rows).toBe(drops[0]!.dropped!.reduce((sum, d) => sum + d.rows, 0));
    expect(entries.reduce((sum, e) => sum + e.rows, 0)).toBe(gone.size);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('counts the dropped rows under the limits: a sweep over them is blocked, touches nothing, and --confirm lets it through', async () => {
    const months = await partitionedLogs();
    const before = await allRows();
    const config = env.config([RULE], { limits: { maxRowsPerRun: 100 } });
    const runtime = await env.runtime(config);

    // plan counts the rows of the partitions it would drop, and prints the token run takes.
    const file = join(tmpdir(), `retention-${env.id}.yaml`);
    writeFileSync(file, env.configYaml([RULE], { limits: { maxRowsPerRun: 100 } }));
    const plan = await runMain(['plan', '--json', '--config', file]).finally(() => rmSync(file, { force: true }));
    const planned = JSON.parse(plan.stdout).rules[0];
    expect(planned.dropsPartitions.length).toBeGreaterThanOrEqual(3);

    const [blocked] = (await run(runtime, config)).swept;
    expect(blocked!.blocked).not.toBeNull();
    expect(blocked!.blocked!.affected).toBe(expiredAt(blocked!.sweep, before).size);
    expect(planned.affected).toBe(blocked!.blocked!.affected);
    expect(planned.blocked.confirm).toBe(blocked!.blocked!.confirmToken);
    expect(await partitionsLeft()).toHaveLength(months.length + 1);
    expect(await allRows()).toHaveLength(before.length);

    const [confirmed] = (await run(runtime, config, { confirm: blocked!.blocked!.confirmToken })).swept;
    expect(confirmed!.sweep.status).toBe('done');
    const dropped = whollyExpiredMonths(confirmed!.sweep, months);
    expect(await partitionsLeft()).toHaveLength(months.length + 1 - dropped.length);
    const gone = expiredAt(confirmed!.sweep, before);
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
  });

  it('keeps a month holding a held subject\'s rows, deleting its other expired rows one by one; months without them still go', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    // alice owns three rows, all in the oldest month.
    const oldest = months[0]!;
    await env.sql(`UPDATE ${s}.logs SET user_id = 'alice' WHERE id IN (SELECT id FROM ${s}.${oldest.name} ORDER BY id LIMIT 3)`);
    const before = await allRows();
    const alice = new Set(before.filter((r) => r.user_id === 'alice').map((r) => r.id));
    expect(alice.size).toBe(3);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    await addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' });

    const [result] = (await run(runtime, config)).swept;
    const sweep = result!.sweep;
    const gone = expiredAt(sweep, before);
    const dropped = whollyExpiredMonths(sweep, months).filter((m) => m !== oldest.name);
    expect(await partitionsLeft()).toEqual([...months.filter((m) => !dropped.includes(m.name)).map((m) => m.name), 'logs_default'].sort());
    const after = await allRows();
    expect(after.map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id) || alice.has(r.id)).map((r) => r.id));
    expect(after.filter((r) => r.part === qualifiedName(oldest.name)).map((r) => r.id).sort()).toEqual([...alice].sort());

    const entries = await batchEntries(sweep.id);
    const kept = entries.find((e) => e.partitionKept)!;
    expect(kept.partitionKept).toEqual([{ partition: qualifiedName(oldest.name), reason: expect.stringContaining('legal hold') }]);
    expect(kept.held).toBe(3);
    expect(droppedIn(entries).map((d) => d.partition).sort()).toEqual(dropped.map(qualifiedName).sort());
  });

  it('does not drop a month with a DELETE trigger: its rows are deleted one by one and the trigger fires for each', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    const watched = months[1]!;
    await env.sql(`CREATE TABLE ${s}.deletions (id bigint)`);
    await env.sql(`CREATE FUNCTION ${s}.note_deletion() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${s}.deletions VALUES (OLD.id); RETURN OLD; END $$`);
    await env.sql(`CREATE TRIGGER note AFTER DELETE ON ${s}.${watched.name} FOR EACH ROW EXECUTE FUNCTION ${s}.note_deletion()`);
    const before = await allRows();
    const watchedRows = before.filter((r) => r.part === qualifiedName(watched.name)).map((r) => r.id);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);

    const [result] = (await run(runtime, config)).swept;
    const sweep = result!.sweep;
    const gone = expiredAt(sweep, before);
    expect(whollyExpiredMonths(sweep, months)).toContain(watched.name);
    expect(await partitionsLeft()).toContain(watched.name);
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    const noted = await env.sql<{ id: string }>(`SELECT id::text FROM ${s}.deletions ORDER BY id`);
    expect(noted.map((r) => r.id).sort()).toEqual([...watchedRows].sort());
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).some((d) => d.partition === qualifiedName(watched.name))).toBe(false);
    expect(droppedIn(entries)).toHaveLength(whollyExpiredMonths(sweep, months).length - 1);
  });

  it('does not drop a month whose bound changed after planning to take in unexpired rows: it deletes only the expired ones', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const dropped = whollyExpiredMonths(sweep, months);
    const last = months.find((m) => m.name === dropped[dropped.length - 1])!;
    const next = months[months.indexOf(last) + 1]!;
    expect(dropped).not.toContain(next.name);

    // After planning: the last wholly expired month takes over the straddling one's range and rows.
    await env.sql(`ALTER TABLE ${s}.logs DETACH PARTITION ${s}.${last.name}`);
    await env.sql(`ALTER TABLE ${s}.logs DETACH PARTITION ${s}.${next.name}`);
    await env.sql(`INSERT INTO ${s}.${last.name} SELECT * FROM ${s}.${next.name}`);
    await env.sql(`DROP TABLE ${s}.${next.name}`);
    await env.sql(`ALTER TABLE ${s}.logs ATTACH PARTITION ${s}.${last.name} FOR VALUES FROM ('${last.from.toISO()}') TO ('${next.to.toISO()}')`);
    const before = await allRows();

    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    const gone = expiredAt(sweep, before);
    expect(before.some((r) => r.part === qualifiedName(last.name) && !gone.has(r.id))).toBe(true);
    expect(await partitionsLeft()).toContain(last.name);
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    expect(keptIn(await batchEntries(sweep.id))).toEqual([{ partition: qualifiedName(last.name), reason: expect.stringContaining('planned as') }]);
  });

  it('does not drop a table that took a planned partition\'s name after planning', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const victim = months.find((m) => m.name === whollyExpiredMonths(sweep, months)[0])!;

    // After planning: the planned month is detached and renamed; a new table of that name,
    // holding fresh rows, is attached for a future range.
    await env.sql(`ALTER TABLE ${s}.logs DETACH PARTITION ${s}.${victim.name}`);
    await env.sql(`ALTER TABLE ${s}.${victim.name} RENAME TO archived`);
    const future = (await thisMonth()).plus({ months: 2 });
    await env.sql(`CREATE TABLE ${s}.${victim.name} (LIKE ${s}.logs)`);
    await env.sql(`INSERT INTO ${s}.${victim.name} (id, at, user_id) VALUES (9001, '${future.plus({ days: 3 }).toISO()}', 'u1')`);
    await env.sql(`ALTER TABLE ${s}.logs ATTACH PARTITION ${s}.${victim.name} FOR VALUES FROM ('${future.toISO()}') TO ('${future.plus({ months: 1 }).toISO()}')`);
    const archived = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.archived`))[0]!.n);
    const before = await allRows();

    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    expect(await partitionsLeft()).toContain(victim.name);
    expect((await allRows()).map((r) => r.id)).toContain('9001');
    const gone = expiredAt(sweep, before);
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    // The detached table is no longer the rule's: untouched.
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.archived`))[0]!.n)).toBe(archived);
    expect(keptIn(await batchEntries(sweep.id)).map((k) => k.partition)).toEqual([qualifiedName(victim.name)]);
  });

  it('does not drop a month attached after planning between two months it drops; the row batches delete its expired rows', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    // At planning the table has a gap: the second month is detached (its rows with it).
    const between = months[1]!;
    await env.sql(`ALTER TABLE ${s}.logs DETACH PARTITION ${s}.${between.name}`);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const planned = whollyExpiredMonths(sweep, months).filter((m) => m !== between.name);
    expect(planned).toContain(months[0]!.name);
    expect(planned).toContain(months[2]!.name);
    // After planning: attached again, between two months one drop batch drops.
    await env.sql(`ALTER TABLE ${s}.logs ATTACH PARTITION ${s}.${between.name} FOR VALUES FROM ('${between.from.toISO()}') TO ('${between.to.toISO()}')`);
    const before = await allRows();
    expect(before.some((r) => r.part === qualifiedName(between.name))).toBe(true);

    for (let idx = 0; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    expect(await partitionsLeft()).toContain(between.name);
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).map((d) => d.partition)).toEqual(planned.map(qualifiedName));
    const gone = expiredAt(sweep, before);
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    expect(entries.reduce((sum, e) => sum + e.rows, 0)).toBe(gone.size);
  });

  it('lets an application that inserts into the newest month and then into an old one finish while a drop batch waits, and counts its row', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const dropped = whollyExpiredMonths(sweep, months);
    const oldest = months[0]!;
    const inOldest = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.${oldest.name}`))[0]!.n);

    // The application: a transaction that writes a fresh row (holding the table), ...
    const app = new pg.Client({ connectionString: DATABASE_URL });
    await app.connect();
    try {
      await app.query('BEGIN');
      await app.query(`INSERT INTO ${s}.logs (id, at, user_id) VALUES (5001, now(), 'u1')`);
      // ... while the drop batch has counted the old months and waits for the table, ...
      const batch = executeBatch(runtime, sweep.id, 0);
      const waitingForTable = async () =>
        (
          await env.sql<{ waiting: boolean }>(
            `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = '${s}.logs'::regclass AND mode = 'AccessExclusiveLock') AS waiting`,
          )
        )[0]!.waiting;
      while (!(await waitingForTable())) await new Promise((resolve) => setTimeout(resolve, 10));
      // ... then writes a late row into the oldest month, which the batch holds: neither may
      // wait for the other for good, and the application must not be the one that fails.
      await app.query(`INSERT INTO ${s}.logs (id, at, user_id) VALUES (5002, '${oldest.from.plus({ days: 2 }).toISO()}', 'u1')`);
      await app.query('COMMIT');
      await batch;
    } finally {
      await app.end();
    }
    for (let idx = 1; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).map((d) => d.partition)).toEqual(dropped.map(qualifiedName));
    // The late row was in the oldest month when it went: counted.
    expect(droppedIn(entries).find((d) => d.partition === qualifiedName(oldest.name))!.rows).toBe(inOldest + 1);
    expect((await allRows()).map((r) => r.id)).toContain('5001');
  });

  it('lets go of the old months at once when an application holding the table waits for one of them, rather than fail it', async () => {
    const months = await partitionedLogs();
    const s = env.schema;
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    const dropped = whollyExpiredMonths(sweep, months);
    const [first, second] = [months[0]!, months[1]!];
    const count = async (m: Month) => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.${m.name}`))[0]!.n);
    const [inFirst, inSecond] = [await count(first), await count(second)];
    const waiting = async (relation: string, mode: string) =>
      (await env.sql<{ w: boolean }>(`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted AND relation = '${s}.${relation}'::regclass AND mode = '${mode}') AS w`))[0]!.w;
    const until = async (condition: () => Promise<boolean>) => {
      while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, 10));
    };

    const [app, late] = [new pg.Client({ connectionString: DATABASE_URL }), new pg.Client({ connectionString: DATABASE_URL })];
    await app.connect();
    await late.connect();
    try {
      // A late arrival written straight into the second month, not committed yet: the batch
      // gets the first month and waits there.
      await late.query('BEGIN');
      await late.query(`INSERT INTO ${s}.${second.name} (id, at, user_id) VALUES (5003, '${second.from.plus({ days: 2 }).toISO()}', 'u1')`);
      // The application holds the table (a fresh row) ...
      await app.query('BEGIN');
      await app.query(`INSERT INTO ${s}.logs (id, at, user_id) VALUES (5001, now(), 'u1')`);
      const batch = executeBatch(runtime, sweep.id, 0);
      await until(() => waiting(second.name, 'ShareLock'));
      // ... and waits for the first month, which the batch holds, before the batch asks for the table.
      const appInsert = app.query(`INSERT INTO ${s}.logs (id, at, user_id) VALUES (5002, '${first.from.plus({ days: 2 }).toISO()}', 'u1')`);
      await until(() => waiting(first.name, 'RowExclusiveLock'));
      await late.query('COMMIT');
      await appInsert;
      await app.query('COMMIT');
      await batch;
    } finally {
      await app.end();
      await late.end();
    }
    for (let idx = 1; idx < sweep.batchesTotal; idx++) await executeBatch(runtime, sweep.id, idx);
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).map((d) => d.partition)).toEqual(dropped.map(qualifiedName));
    const rowsOf = (m: Month) => droppedIn(entries).find((d) => d.partition === qualifiedName(m.name))!.rows;
    expect([rowsOf(first), rowsOf(second)]).toEqual([inFirst + 1, inSecond + 1]);
    expect((await allRows()).map((r) => r.id)).toContain('5001');
  });

  it('drops nothing in a dry run, and counts what the sweep would remove', async () => {
    const months = await partitionedLogs();
    const before = await allRows();
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const [result] = (await run(runtime, config, { dryRun: true })).swept;
    expect(await partitionsLeft()).toHaveLength(months.length + 1);
    expect(await allRows()).toHaveLength(before.length);
    expect(result!.sweep.rowsAffected).toBe(expiredAt(result!.sweep, before).size);
    expect((await batchEntries(result!.sweep.id)).some((e) => e.dropped)).toBe(false);
  });

  it('shows in plan the partitions a sweep would drop', async () => {
    const months = await partitionedLogs();
    const file = join(tmpdir(), `retention-${env.id}.yaml`);
    writeFileSync(file, env.configYaml([RULE]));
    try {
      const plan = await runMain(['plan', '--json', '--config', file]);
      expect(plan.code).toBe(0);
      const [rule] = JSON.parse(plan.stdout).rules;
      // plan judges at its own `now`; the months it names are the wholly expired ones then.
      const now = DateTime.fromISO(JSON.parse(plan.stdout).now, { zone: 'UTC' });
      const expected = months.filter((m) => m.to <= now.minus({ months: 6 })).map((m) => qualifiedName(m.name));
      expect(rule.dropsPartitions).toEqual(expected);
      const text = await runMain(['plan', '--config', file]);
      expect(text.stdout).toContain(`logs drops ${expected.length} wholly expired partition(s)`);
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('keeps a day of margin for a timestamp anchor read in its zone, and drops what lies beyond it', async () => {
    const months = await partitionedLogs({ anchorType: 'timestamp' });
    // The wall-clock anchors as text (node-pg would read a timestamp in its own zone).
    const wall = async () => env.sql<{ id: string; at: string }>(`SELECT id::text, at::text FROM ${env.schema}.logs ORDER BY id`);
    const before = await wall();
    const config = env.config([{ ...RULE, anchorZone: 'Pacific/Kiritimati' }]);
    const runtime = await env.runtime(config);
    const [result] = (await run(runtime, config)).swept;
    const sweep = result!.sweep;
    const ranges = rangesFromJson(sweep.ranges);
    const DAY = 86_400_000;
    // Wall-clock bounds read as UTC, widened by a day: the months beyond the margin go.
    const expected = months.filter((m) => m.to.toMillis() + DAY <= ranges[0]!.to).map((m) => qualifiedName(m.name));
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).map((d) => d.partition).sort()).toEqual(expected.sort());
    // The rows, as the statements read the anchor: in the zone (+14:00).
    const isExpired = (r: { at: string }) => inRanges(ranges, DateTime.fromSQL(r.at, { zone: 'Pacific/Kiritimati' }).toMillis());
    expect((await wall()).map((r) => r.id)).toEqual(before.filter((r) => !isExpired(r)).map((r) => r.id));
  });

  it('drops sub-partitions of a month range-partitioned by the anchor too, and a hash-partitioned range whole', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.logs (id bigint NOT NULL, at timestamptz NOT NULL, user_id text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
    const m = await thisMonth();
    // [m-14, m-10): by hash of id, wholly expired: goes whole with its two sub-partitions.
    await env.sql(`CREATE TABLE ${s}.old_hashed PARTITION OF ${s}.logs FOR VALUES FROM ('${m.minus({ months: 14 }).toISO()}') TO ('${m.minus({ months: 10 }).toISO()}') PARTITION BY HASH (id)`);
    await env.sql(`CREATE TABLE ${s}.old_hashed_0 PARTITION OF ${s}.old_hashed FOR VALUES WITH (MODULUS 2, REMAINDER 0)`);
    await env.sql(`CREATE TABLE ${s}.old_hashed_1 PARTITION OF ${s}.old_hashed FOR VALUES WITH (MODULUS 2, REMAINDER 1)`);
    // [m-10, m+2): by month, not wholly expired: its expired months go one by one.
    await env.sql(`CREATE TABLE ${s}.recent PARTITION OF ${s}.logs FOR VALUES FROM ('${m.minus({ months: 10 }).toISO()}') TO ('${m.plus({ months: 2 }).toISO()}') PARTITION BY RANGE (at)`);
    const months: Month[] = [];
    for (let i = -10; i <= 1; i++) {
      const from = m.plus({ months: i });
      const month = { name: `recent_${from.toFormat('yyyy_MM')}`, from, to: from.plus({ months: 1 }) };
      await env.sql(`CREATE TABLE ${s}.${month.name} PARTITION OF ${s}.recent FOR VALUES FROM ('${from.toISO()}') TO ('${month.to.toISO()}')`);
      months.push(month);
    }
    await env.sql(`INSERT INTO ${s}.logs (id, at, user_id) SELECT g, date_trunc('second', now()) - g * interval '7 hours', 'u' FROM generate_series(1, 1400) g`);
    const before = await allRows();
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const [result] = (await run(runtime, config)).swept;
    const sweep = result!.sweep;
    const gone = expiredAt(sweep, before);
    const expected = [qualifiedName('old_hashed'), ...whollyExpiredMonths(sweep, months).map(qualifiedName)];
    const entries = await batchEntries(sweep.id);
    expect(droppedIn(entries).map((d) => d.partition).sort()).toEqual(expected.sort());
    expect((await allRows()).map((r) => r.id)).toEqual(before.filter((r) => !gone.has(r.id)).map((r) => r.id));
    const tables = await env.sql<{ relname: string }>(`SELECT relname FROM pg_class WHERE relnamespace = '${s}'::regnamespace AND relkind IN ('r', 'p')`);
    expect(tables.map((t) => t.relname)).not.toContain('old_hashed_0');
  });
});

describe('when partitions are never dropped', () => {
  it('plans no drop for a rule with where filters, an anonymize rule, or a table other tables reference', async () => {
    await partitionedLogs();
    const s = env.schema;
    const config = env.config([
      { ...RULE, id: 'filtered', where: { user_id: 'u1' } },
      { ...RULE, id: 'anonymized', action: 'anonymize', anonymize: { user_id: 'null' } },
    ]);
    const runtime = await env.runtime(config);
    for (const rule of config.rules) {
      const store = runtime.storeFor(rule);
      const now = (await env.sql<{ now: Date }>('SELECT now() AS now'))[0]!.now;
      const ranges = planSweep(rule, now).ranges;
      expect(await store.partitionsToDrop!(rule, expired(ranges))).toEqual([]);
      expect((await store.partition(rule, expired(ranges))).some((b) => b.partitions)).toBe(false);
    }
    await env.sql(`CREATE TABLE ${s}.notes (id bigint, at timestamptz, FOREIGN KEY (id, at) REFERENCES ${s}.logs ON DELETE CASCADE)`);
    const referenced = env.config([{ ...RULE, cascades: 'allow' }]);
    const rt = await env.runtime(referenced);
    const rule = referenced.rules[0]!;
    const now = (await env.sql<{ now: Date }>('SELECT now() AS now'))[0]!.now;
    expect(await rt.storeFor(rule).partitionsToDrop!(rule, expired(planSweep(rule, now).ranges))).toEqual([]);
  });
});

describe('what a DROP would do differently from a DELETE keeps a partition from being dropped', () => {
  const blockers: [string, (s: string, month: string) => string[], Record<string, unknown>?][] = [
    ['row-level security', (s, month) => [`ALTER TABLE ${s}.${month} ENABLE ROW LEVEL SECURITY`]],
    ['a rule on DELETE', (s, month) => [`CREATE RULE keep_note AS ON DELETE TO ${s}.${month} DO ALSO NOTHING`]],
    ['a publication replicating deletes', (s) => [`CREATE PUBLICATION pub_${env.id} FOR TABLE ${s}.logs`]],
  ];
  for (const [what, ddl] of blockers) {
    it(what, async () => {
      const months = await partitionedLogs();
      const s = env.schema;
      const config = env.config([RULE]);
      const runtime = await env.runtime(config);
      const rule = config.rules[0]!;
      const now = (await env.sql<{ now: Date }>('SELECT now() AS now'))[0]!.now;
      const ranges = planSweep(rule, now).ranges;
      const before = await runtime.storeFor(rule).partitionsToDrop!(rule, expired(ranges));
      const month = months[1]!.name;
      expect(before.some((name) => name.endsWith(`.${month}`))).toBe(true);
      try {
        for (const statement of ddl(s, month)) await env.sql(statement);
        const after = await runtime.storeFor(rule).partitionsToDrop!(rule, expired(ranges));
        expect(after.some((name) => name.endsWith(`.${month}`))).toBe(false);
      } finally {
        // Publications belong to the database, not the schema.
        await env.sql(`DROP PUBLICATION IF EXISTS pub_${env.id}`);
      }
    });
  }

  it('a rule whose rows own files (cascade:)', async () => {
    await partitionedLogs();
    const dir = join(tmpdir(), `retention-parts-${env.id}`);
    mkdirSync(dir, { recursive: true });
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    const config = env.config([{ ...RULE, cascade: [{ store: 'files', path: '{id}.jpg' }] }], { stores: { app: { kind: 'postgres', url: DATABASE_URL }, files: { kind: 'files', root: dir } } });
    const runtime = await env.runtime(config);
    const rule = config.rules[0]!;
    const now = (await env.sql<{ now: Date }>('SELECT now() AS now'))[0]!.now;
    expect(await runtime.storeFor(rule).partitionsToDrop!(rule, expired(planSweep(rule, now).ranges))).toEqual([]);
  });
});

describe('check', () => {
  it('accepts key: id on a partitioned table whose primary key is (id, anchor), and still refuses it on a plain table', async () => {
    await partitionedLogs();
    await env.sql(`CREATE TABLE ${env.schema}.plain (id bigint NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (at, id))`);
    const config = env.config([RULE, { ...RULE, id: 'plain', table: 'plain', subject: undefined }]);
    const runtime = await env.runtime(config);
    const [partitioned, plain] = config.rules;
    const context = runtime.contextFor(partitioned!);
    const keyProblems = async (rule: typeof partitioned) =>
      (await runtime.storeFor(rule!).inspect(sqlRule(rule!), `rules.${rule!.id}`, context)).filter((p) => p.path.endsWith('.key'));
    expect(await keyProblems(partitioned)).toEqual([]);
    expect((await keyProblems(plain)).map((p) => p.message).join()).toContain('is not a primary key or unique column');
  });
});

describe('partition bounds read in any session', () => {
  it('are exact instants whatever the DateStyle and TimeZone: a partition with a row not yet due is not dropped', async () => {
    const { planDrops, readPartitionTree } = await import('../../src/stores/postgres/partitions.js');
    const { dropPartitions } = await import('../../src/stores/postgres/drop-partitions.js');
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.logs (id bigint NOT NULL, at timestamptz NOT NULL, user_id text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
    await env.sql(`CREATE TABLE ${s}.june PARTITION OF ${s}.logs FOR VALUES FROM ('2024-06-01T00:00:00+01') TO ('2024-07-01T00:00:00+01')`);
    await env.sql(`CREATE TABLE ${s}.later PARTITION OF ${s}.logs FOR VALUES FROM ('2024-07-01T00:00:00+01') TO (MAXVALUE)`);
    // Expired: anchors up to 22:30Z on June 30. Row 2 (22:45Z) is not, and lies in "june",
    // whose upper bound is 23:00Z.
    await env.sql(`INSERT INTO ${s}.logs VALUES (1, '2024-06-15T00:00:00Z', 'u'), (2, '2024-06-30T22:45:00Z', 'u'), (3, '2024-07-05T00:00:00Z', 'u')`);
    const ranges = [{ from: null, to: Date.parse('2024-06-30T22:30:00Z') }];
    const config = env.config([{ id: 'logs', table: 'logs', anchor: 'at', key: 'id', retain: 'P6M', action: 'delete', subject: 'user_id', batchSize: 100 }]);
    const rule = sqlRule(config.rules[0]!);
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      // What a server, database or role set to DateStyle 'SQL, DMY' in an Irish zone gives
      // every session: a bound printed as '01/07/2024 00:00:00 IST', where IST reads back
      // as Israel's +02, not Irish Summer Time's +01.
      await client.query(`SET DateStyle = 'SQL, DMY'`);
      await client.query(`SET TimeZone = 'Europe/Dublin'`);
      const tree = await readPartitionTree(client, rule, 'timestamptz');
      const june = tree.find((n) => n.name.endsWith('.june'))!;
      expect(new Date(june.upperMs).toISOString()).toBe('2024-06-30T23:00:00.000Z');
      const plan = planDrops(tree, rule, ranges, 'timestamptz');
      expect((plan?.drops ?? []).map((d) => d.name)).toEqual([]);
      // Asked to drop it anyway (a plan made elsewhere), the recheck under lock refuses.
      await client.query('BEGIN');
      await dropPartitions(client, { rule, anchorType: 'timestamptz', partitions: [{ name: june.name, bound: june.bound! }], ranges, held: async () => [], dryRun: false });
      await client.query('COMMIT');
      // The session's own settings are as they were.
      expect((await client.query('SHOW DateStyle')).rows[0].DateStyle).toBe('SQL, DMY');
    } finally {
      await client.end();
    }
    expect((await env.sql<{ id: string }>(`SELECT id::text FROM ${s}.logs ORDER BY id`)).map((r) => r.id)).toContain('2');
  });
});

describe('a sub-partition whose bound is wider than its parent partition', () => {
  it('is swept row by row, so the row batches do not leave out another partition’s expired rows', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.logs (id bigint NOT NULL, at timestamptz NOT NULL, user_id text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
    const m = await thisMonth();
    // p0 [m-12, m-9) has a DELETE trigger: never dropped, swept row by row.
    await env.sql(`CREATE TABLE ${s}.p0 PARTITION OF ${s}.logs FOR VALUES FROM ('${m.minus({ months: 12 }).toISO()}') TO ('${m.minus({ months: 9 }).toISO()}')`);
    await env.sql(`CREATE TABLE ${s}.deletions (id bigint)`);
    await env.sql(`CREATE FUNCTION ${s}.note() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${s}.deletions VALUES (OLD.id); RETURN OLD; END $$`);
    await env.sql(`CREATE TRIGGER note AFTER DELETE ON ${s}.p0 FOR EACH ROW EXECUTE FUNCTION ${s}.note()`);
    // p1 [m-9, m+2) straddles the boundary, sub-partitioned by the anchor; sp1's own bound starts at MINVALUE.
    await env.sql(`CREATE TABLE ${s}.p1 PARTITION OF ${s}.logs FOR VALUES FROM ('${m.minus({ months: 9 }).toISO()}') TO ('${m.plus({ months: 2 }).toISO()}') PARTITION BY RANGE (at)`);
    await env.sql(`CREATE TABLE ${s}.sp1 PARTITION OF ${s}.p1 FOR VALUES FROM (MINVALUE) TO ('${m.minus({ months: 8 }).toISO()}')`);
    await env.sql(`CREATE TABLE ${s}.sp2 PARTITION OF ${s}.p1 FOR VALUES FROM ('${m.minus({ months: 8 }).toISO()}') TO ('${m.plus({ months: 2 }).toISO()}')`);
    await env.sql(`INSERT INTO ${s}.logs SELECT g, date_trunc('second', now()) - g * interval '7 hours', 'u' FROM generate_series(1, 1200) g`);
    // Every row of p0 is expired (it ends nine months back, the rule keeps six).
    const inP0 = Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.p0`))[0]!.n);
    expect(inP0).toBeGreaterThan(0);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let i = 0; i < sweep.batchesTotal; i++) await executeBatch(runtime, sweep.id, i);
    const ranges = rangesFromJson(sweep.ranges);
    const left = (await allRows()).filter((r) => inRanges(ranges, r.at.getTime()));
    expect(left).toEqual([]);
    // p0's rows went one by one, every one through its trigger.
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.deletions`))[0]!.n)).toBe(inP0);
  });
});

describe('a partition a view reads', () => {
  it('is not dropped (the DROP would fail): it is swept row by row, and the other months of its drop batch still go', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.logs (id bigint NOT NULL, at timestamptz NOT NULL, user_id text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)`);
    const m = await thisMonth();
    for (let i = -12; i <= 1; i++) {
      const from = m.plus({ months: i });
      await env.sql(`CREATE TABLE ${s}.m${i + 12} PARTITION OF ${s}.logs FOR VALUES FROM ('${from.toISO()}') TO ('${from.plus({ months: 1 }).toISO()}')`);
    }
    await env.sql(`CREATE VIEW ${s}.v AS SELECT * FROM ${s}.m3`);
    await env.sql(`INSERT INTO ${s}.logs SELECT g, date_trunc('second', now()) - g * interval '7 hours', 'u' FROM generate_series(1, 1200) g`);
    const config = env.config([RULE]);
    const runtime = await env.runtime(config);
    const sweep = await plannedSweep(env, config, runtime);
    for (let i = 0; i < sweep.batchesTotal; i++) await executeBatch(runtime, sweep.id, i);
    const ranges = rangesFromJson(sweep.ranges);
    expect((await allRows()).filter((r) => inRanges(ranges, r.at.getTime()))).toEqual([]);
    const batchEntries = (
      await env.sql<{ entry: { dropped?: { partition: string }[]; partitionKept?: unknown[] } }>(
        `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'sweepId' = $1 AND entry->>'event' = 'batch'`,
        [sweep.id],
      )
    ).map((r) => r.entry);
    const dropped = batchEntries.flatMap((e) => e.dropped ?? []).map((d) => d.partition.split('.').pop()!);
    // Every wholly expired month but m3: those whose end is at or before the sweep's expired range's end.
    const end = Math.max(...ranges.map((r) => r.to));
    const whollyExpired = Array.from({ length: 14 }, (_, i) => i).filter((i) => m.plus({ months: i - 12 + 1 }).toMillis() <= end).map((i) => `m${i}`);
    expect(whollyExpired).toContain('m3');
    expect(dropped.sort()).toEqual(whollyExpired.filter((n) => n !== 'm3').sort());
    expect(batchEntries.flatMap((e) => e.partitionKept ?? [])).toEqual([]);
    // The view's month is still there, its expired rows (all of them) deleted one by one.
    expect((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.v`))[0]!.n).toBe('0');
  });
});

