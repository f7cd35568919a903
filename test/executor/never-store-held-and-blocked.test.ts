import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { heldOnlyOf, incidentLine, incidentOf, sweepRecordIncident } from '../../src/audit/never-store-incident.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { addHold } from '../../src/executor/place-hold.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * What a never-store incident counts. A sweep blocked by its limits found the rule's own
 * rows, not the rows that would have cascaded through foreign keys with them (the limits
 * judge those too, and the blocked entry's `rows` says so). And items a legal hold keeps
 * are present, but a sweep that found nothing else is no new incident: while the hold
 * lasts every sweep finds them again.
 */

const FACE = { id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', subject: 'user_id' };

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.face_templates (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), user_id text NOT NULL, template bytea)`);
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

async function faces(users: string[]): Promise<void> {
  for (const user of users) await env.sql(`INSERT INTO ${env.schema}.face_templates (created_at, user_id, template) VALUES (now() - interval '1 minute', $1, '\\xdead')`, [user]);
}

async function closingEntries(): Promise<SweepAuditEntry[]> {
  const rows = await env.sql<{ entry: SweepAuditEntry }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' IN ('sweep-finished', 'blocked') ORDER BY seq`);
  return rows.map((r) => r.entry);
}

describe('a never-store sweep blocked by its limits', () => {
  it('found the rule\'s own rows, not the rows that would have cascaded with them', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.face_points (id bigserial PRIMARY KEY, template_id bigint NOT NULL REFERENCES ${env.schema}.face_templates ON DELETE CASCADE)`);
    await faces(['alice', 'bob', 'carol']);
    // Two points per template: the sweep would remove 3 + 6 rows.
    await env.sql(`INSERT INTO ${env.schema}.face_points (template_id) SELECT id FROM ${env.schema}.face_templates, generate_series(1, 2)`);
    const config = env.config([{ ...FACE, cascades: 'allow', limits: { maxRowsPerRun: 5 } }]);
    const [result] = await env.run(config);
    expect(result!.sweep.status).toBe('blocked');
    expect(result!.blocked).toMatchObject({ affected: 9, rows: 3 });

    const [blocked] = await closingEntries();
    expect(blocked).toMatchObject({ event: 'blocked', rows: 9, incident: { found: 3 } });
    const incident = sweepRecordIncident(result!.sweep)!;
    expect(incident).toMatchObject({ found: 3, changed: 0, blocked: true });
    expect(incidentOf(blocked!)).toEqual(incident);
    expect(incidentLine(incident)).toBe(
      `INCIDENT: never-store rule face-data found 3 items in ${env.schema}.face_templates; blocked by its limits, nothing was touched (confirm the sweep to delete them)`,
    );
    expect(Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.face_points`))[0]!.n)).toBe(6);
  });
});

describe('a never-store sweep that finds only what a legal hold keeps', () => {
  it('is no new incident: its closing entry records the held items, and a sweep that changes anything still is one', async () => {
    await faces(['alice', 'alice']);
    const config = env.config([FACE]);
    const runtime = await env.runtime(config);
    await addHold(runtime, { subject: 'alice', reason: 'case 2026-17', actor: 'legal:kim' });

    // Twice while the hold lasts: the same two rows each time, and no incident.
    for (let i = 0; i < 2; i++) {
      const [result] = await env.run(config);
      expect(result!.sweep).toMatchObject({ status: 'done', rowsAffected: 0, rowsHeld: 2 });
      expect(sweepRecordIncident(result!.sweep)).toBeNull();
    }
    const held = await closingEntries();
    expect(held).toHaveLength(2);
    for (const entry of held) {
      expect(entry.incident).toBeUndefined();
      expect(entry.neverStoreHeld).toBe(2);
      expect(incidentOf(entry)).toBeNull();
      expect(heldOnlyOf(entry)).toBe(2);
    }

    // A new row of someone else beside them: deleted, an incident that counts the held ones as found.
    await faces(['bob']);
    const [mixed] = await env.run(config);
    expect(mixed!.sweep).toMatchObject({ rowsAffected: 1, rowsHeld: 2 });
    const last = (await closingEntries()).at(-1)!;
    expect(last.incident).toEqual({ found: 3, held: 2 });
    expect(last.neverStoreHeld).toBeUndefined();
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('run says so without an INCIDENT line, run --json has neverStoreHeld, and audit list marks the entry', async () => {
    await faces(['alice']);
    const file = dir.write('retention.yaml', env.configYaml([FACE]));
    expect((await runMain(['hold', 'add', '--subject', 'alice', '--reason', 'litigation', '--config', file])).code).toBe(0);

    const run = await runMain(['run', '--all', '--config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('INCIDENT');
    expect(run.stdout).toContain(`never-store rule face-data found 1 item(s) in ${env.schema}.face_templates, all kept because their subject is on legal hold (no new incident)`);
    const json = JSON.parse((await runMain(['run', '--all', '--json', '--config', file])).stdout) as { rules: Record<string, unknown>[] };
    expect(json.rules[0]).toMatchObject({ id: 'face-data', neverStoreHeld: 1 });
    expect(json.rules[0]!.incident).toBeUndefined();

    const listed = await runMain(['audit', 'list', '--config', file]);
    expect(listed.stdout).toContain('1 held, no new incident');
    expect(listed.stdout).not.toContain('INCIDENT');
  });
});
