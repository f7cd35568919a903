import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { incidentOf } from '../../src/audit/never-store-incident.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { nextExpiry } from '../../src/executor/next-expiry.js';
import { addHold } from '../../src/executor/place-hold.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import type { Config } from '../../src/policy/config.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * Never-store rules end to end on PostgreSQL (`never: true`, `retain: PT0S`): each sweep
 * looks for the category; whatever it finds goes at once, and the sweep's closing audit
 * entry records the incident (`incident: { found }`), hashed with the rest of the entry.
 * Limits and legal holds still apply: a never-store rule pointed at the wrong table must
 * not wipe it, and a held person's rows stay (counted as found: the data is there).
 */

const FACE = { id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', subject: 'user_id' };
const FACE_COLUMNS = {
  id: 'face-columns',
  table: 'accounts',
  anchor: 'created_at',
  retain: 'PT0S',
  never: true,
  action: 'anonymize',
  anonymize: { face_template: 'null' },
  where: { face_template: { not: null } },
};

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  await env.sql(`CREATE TABLE ${env.schema}.face_templates (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), user_id text NOT NULL, template bytea)`);
  await env.sql(`CREATE TABLE ${env.schema}.accounts (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), email text, face_template bytea)`);
  // Another table in the same schema, with a column of the same name: never touched.
  await env.sql(`CREATE TABLE ${env.schema}.photos (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), face_template bytea)`);
  await env.sql(`INSERT INTO ${env.schema}.photos (created_at, face_template) SELECT now() - interval '1 day', '\\x01' FROM generate_series(1, 7)`);
});
afterEach(async () => {
  await env.cleanup();
});

async function faces(users: string[]): Promise<void> {
  for (const user of users) await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at, user_id, template) VALUES (now() - interval '1 minute', $1, '\\xdead')`, [user]);
}

const count = async (sql: string) => Number((await env.sql<{ n: string }>(sql))[0]!.n);

async function closingEntries(): Promise<SweepAuditEntry[]> {
  const rows = await env.sql<{ entry: SweepAuditEntry }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' <> 'batch' ORDER BY seq`);
  return rows.map((r) => r.entry);
}

describe('a never-store rule that finds its data', () => {
  it('deletes exactly those rows, records the incident on the closing entry, and the log verifies', async () => {
    await faces(['alice', 'bob', 'carol', 'dave']);
    const config = env.config([FACE]);
    const [result] = await env.run(config);
    expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 4 });
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.face_templates`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.photos WHERE face_template IS NOT NULL`)).toBe(7);

    const [closing] = await closingEntries();
    expect(closing).toMatchObject({ event: 'sweep-finished', ruleId: 'face-data', rows: 4, incident: { found: 4 } });
    expect(closing!.incident).toEqual({ found: 4 });
    expect(incidentOf(closing!)).toMatchObject({ ruleId: 'face-data', table: `${env.schema}.face_templates`, found: 4, changed: 4, held: 0, blocked: false });
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });

  it('anonymizes the column where a rule says so, leaving the rows and rows without it', async () => {
    await env.sql(
      `INSERT INTO ${env.schema}.accounts (created_at, email, face_template) SELECT now() - interval '1 hour', 'u' || g || '@example.com', CASE WHEN g <= 3 THEN '\\xbeef'::bytea END FROM generate_series(1, 10) g`,
    );
    const config = env.config([FACE_COLUMNS]);
    const [result] = await env.run(config);
    expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 3 });
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.accounts`)).toBe(10);
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.accounts WHERE face_template IS NOT NULL`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.accounts WHERE email IS NOT NULL`)).toBe(10);
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.photos WHERE face_template IS NOT NULL`)).toBe(7);
    expect((await closingEntries())[0]).toMatchObject({ event: 'sweep-finished', action: 'anonymize', incident: { found: 3 } });
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });

  it('finds nothing: no incident on the closing entry', async () => {
    await env.sql(`INSERT INTO ${env.schema}.accounts (email) VALUES ('a@example.com')`);
    const config = env.config([FACE, FACE_COLUMNS]);
    const results = await env.run(config);
    expect(results.map((r) => r.sweep.status)).toEqual(['done', 'done']);
    const entries = await closingEntries();
    expect(entries.map((e) => e.event)).toEqual(['sweep-finished', 'sweep-finished']);
    for (const entry of entries) {
      expect(entry.incident).toBeUndefined();
      expect(incidentOf(entry)).toBeNull();
    }
  });

  it('is no incident in a dry run, which changes nothing (the real sweep records it)', async () => {
    await faces(['alice', 'bob']);
    const config = env.config([FACE]);
    const [dry] = await env.run(config, { dryRun: true });
    expect(dry!.sweep).toMatchObject({ dryRun: true, rowsAffected: 2 });
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.face_templates`)).toBe(2);
    expect((await closingEntries())[0]!.incident).toBeUndefined();
  });

  it('leaves a row anchored after the sweep\'s now, and its next expiry is its anchor', async () => {
    // Next-expiry probes an index on the anchor (without one the rule keeps to its schedule).
    await env.sql(`CREATE INDEX ON ${env.schema}.face_templates (created_at)`);
    await faces(['alice']);
    // An hour from now, in whole milliseconds (PostgreSQL keeps microseconds).
    await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at, user_id) VALUES (date_trunc('milliseconds', now() + interval '1 hour'), 'later')`);
    const config = env.config([FACE]);
    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(1);
    const left = await env.sql<{ user_id: string; at: Date }>(`SELECT user_id, created_at AS at FROM ${env.schema}.face_templates`);
    expect(left.map((r) => r.user_id)).toEqual(['later']);
    // PT0S: the row is due at its own anchor, which next-expiry scheduling queues a sweep for.
    const runtime = await env.runtime(config);
    const next = await nextExpiry(runtime, config.rules[0]!, planSweep(config.rules[0]!, result!.sweep.now).ranges);
    expect(next).toEqual({ anchor: left[0]!.at.getTime(), at: left[0]!.at.getTime() });
  });
});

describe('a never-store rule and its limits', () => {
  it('is blocked by them, touches nothing, and the blocked entry is an incident', async () => {
    await faces(['alice', 'bob', 'carol', 'dave', 'erin']);
    const config: Config = env.config([{ ...FACE, limits: { maxRowsPerRun: 2 } }]);
    const [result] = await env.run(config);
    expect(result!.sweep.status).toBe('blocked');
    expect(result!.blocked).toMatchObject({ affected: 5 });
    expect(await count(`SELECT count(*) AS n FROM ${env.schema}.face_templates`)).toBe(5);
    const [blocked] = await closingEntries();
    expect(blocked).toMatchObject({ event: 'blocked', rows: 5, incident: { found: 5 } });
    expect(incidentOf(blocked!)).toMatchObject({ found: 5, changed: 0, blocked: true });
    expect((await verifyAudit((await env.runtime(config)).state)).ok).toBe(true);
  });
});

describe('a never-store rule and legal holds', () => {
  it("keeps a held person's rows and counts them as found, with how many the hold kept", async () => {
    await faces(['alice', 'alice', 'bob', 'carol']);
    const config = env.config([FACE]);
    const runtime = await env.runtime(config);
    await addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' });
    const [result] = await env.run(config);
    expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 2, rowsHeld: 2 });
    const left = await env.sql<{ user_id: string }>(`SELECT user_id FROM ${env.schema}.face_templates ORDER BY id`);
    expect(left.map((r) => r.user_id)).toEqual(['alice', 'alice']);
    const closing = (await closingEntries()).find((e) => e.event === 'sweep-finished')!;
    expect(closing).toMatchObject({ rows: 2, incident: { found: 4, held: 2 } });
    expect(incidentOf(closing)).toMatchObject({ found: 4, changed: 2, held: 2 });
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });
});

describe('the incident in the audit chain', () => {
  it('cannot be removed from its entry: verify names the entry', async () => {
    await faces(['alice', 'bob']);
    const config = env.config([FACE]);
    await env.run(config);
    const log = `${env.stateSchema}.audit_log`;
    const [row] = await env.sql<{ seq: string }>(`SELECT seq FROM ${log} WHERE entry ? 'incident'`);
    expect(row).toBeDefined();
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`ALTER TABLE ${log} DISABLE TRIGGER USER`);
      await client.query(`UPDATE ${log} SET entry = entry - 'incident' WHERE seq = $1`, [row!.seq]);
      await client.query(`ALTER TABLE ${log} ENABLE TRIGGER USER`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const result = await verifyAudit((await env.runtime(config)).state);
    expect(result).toMatchObject({ ok: false, seq: Number(row!.seq) });
    expect(!result.ok && result.problem).toMatch(/was altered/);
  });
});
