import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir, untouched } from './cli-harness.js';

/**
 * Never-store rules through the command: a config that gets them wrong is refused (exit 2,
 * nothing touched); `plan` says "never stored" and what it would find; `run` prints an
 * INCIDENT line per rule that found its data (and `--json` has it); `audit list` marks the
 * entry; `check` warns of an anchor that allows NULL (such rows are never found).
 */

const FACE = { id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete' };

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.face_templates (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), template bytea)`);
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '2 years' FROM generate_series(1, 5)`);
});
afterEach(async () => {
  dir.remove();
  await env.cleanup();
});

const write = (rules: Record<string, unknown>[]) => dir.write('retention.yaml', env.configYaml(rules));
const faces = (n: number) => env.sql(`INSERT INTO ${env.schema}.face_templates (created_at, template) SELECT now() - interval '5 minutes', '\\xdead' FROM generate_series(1, ${n})`);
// A second, ordinary rule in the same config: a refused config must not sweep it either.
const LOGS = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' };

describe('a never-store rule written wrong', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['never without PT0S', { ...FACE, retain: 'P30D' }, 'rules[1].retain: rule face-data says never: true (this data is never stored), so retain must be PT0S, not "P30D"'],
    ['PT0S without never', { ...FACE, never: undefined }, 'rules[1].retain: "PT0S" is zero; a retention period must be positive (rule face-data). Use never: true with retain: PT0S'],
    ['never with expire', { ...FACE, action: 'expire' }, 'rules[1].action: rule face-data says never: true, which cannot expire'],
    ['never with archive', { ...FACE, action: 'archive', archiveTable: 'archive.face_templates' }, 'rules[1].action: rule face-data says never: true, which cannot archive'],
  ];
  for (const [what, rule, message] of cases) {
    it(`is refused (${what}): exit 2, the rule and field named, nothing touched`, async () => {
      await faces(3);
      const file = write([LOGS, rule]);
      const run = await runMain(['run', '--all', '--config', file]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(await untouched(env, 'face_templates')).toEqual({ stateSchema: false, rows: 3, redisKeys: 0 });
      expect(await untouched(env, 'logs')).toMatchObject({ rows: 5 });
      expect((await runMain(['check', '--config', file])).code).toBe(2);
    });
  }
});

describe('a never-store rule in plan, run and audit list', () => {
  it('plan shows it as never stored with what it would find; run prints the INCIDENT; audit list marks it', async () => {
    await faces(3);
    const file = write([FACE, LOGS]);

    const plan = await runMain(['plan', '--config', file]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/face-data\s+delete\s+\S+face_templates\s+never stored/);
    expect(lines(plan.stdout)).toContain(`face-data: never stored, but 3 item(s) are in ${env.schema}.face_templates now: a sweep deletes them at once and records an incident`);
    const planJson = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout) as { rules: Record<string, unknown>[] };
    expect(planJson.rules.find((r) => r.id === 'face-data')).toMatchObject({ never: true, found: 3, affected: 3 });
    expect(planJson.rules.find((r) => r.id === 'logs')).not.toHaveProperty('never');

    const run = await runMain(['run', '--all', '--config', file]);
    expect(run.code).toBe(0);
    expect(lines(run.stdout)).toContain(`INCIDENT: never-store rule face-data found 3 items in ${env.schema}.face_templates; deleted`);
    // One line, for the rule that found its data; the ordinary rule has none.
    expect(lines(run.stdout).filter((l) => l.startsWith('INCIDENT'))).toHaveLength(1);
    expect(await env.sql(`SELECT id FROM ${env.schema}.face_templates`)).toEqual([]);

    const list = await runMain(['audit', 'list', '--config', file]);
    expect(list.code).toBe(0);
    const finished = lines(list.stdout).filter((l) => l.includes('sweep-finished'));
    expect(finished.find((l) => l.includes('face-data'))).toContain('INCIDENT: 3 found');
    expect(finished.find((l) => l.includes(' logs '))).not.toContain('INCIDENT');
    const listed = JSON.parse((await runMain(['audit', 'list', '--json', '--config', file])).stdout) as { entry: Record<string, unknown> }[];
    expect(listed.find((r) => r.entry.ruleId === 'face-data' && r.entry.event === 'sweep-finished')!.entry.incident).toEqual({ found: 3 });

    // Nothing left: the next sweep finds nothing, prints no incident, and plan says so.
    const again = await runMain(['run', '--rule', 'face-data', '--json', '--config', file]);
    expect((JSON.parse(again.stdout) as { rules: Record<string, unknown>[] }).rules[0]).not.toHaveProperty('incident');
    expect(lines((await runMain(['plan', '--config', file])).stdout)).toContain(`face-data: never stored; nothing found in ${env.schema}.face_templates now`);
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);
  });

  it('run --json carries the incident; a blocked never-store sweep is reported blocked and as an incident', async () => {
    await faces(4);
    const file = write([{ ...FACE, limits: { maxRowsPerRun: 1 } }]);
    const run = await runMain(['run', '--rule', 'face-data', '--config', file]);
    expect(run.code).toBe(3);
    expect(lines(run.stdout)).toContain(`INCIDENT: never-store rule face-data found 4 items in ${env.schema}.face_templates; blocked by its limits, nothing was touched (confirm the sweep to delete them)`);
    expect(run.stderr).toContain('rule face-data was blocked and nothing was touched');
    expect(await env.sql(`SELECT id FROM ${env.schema}.face_templates`)).toHaveLength(4);

    const json = await runMain(['run', '--rule', 'face-data', '--json', '--config', file]);
    expect(json.code).toBe(3);
    const rule = (JSON.parse(json.stdout) as { rules: Record<string, unknown>[] }).rules[0];
    expect(rule).toMatchObject({ status: 'blocked', incident: { found: 4, changed: 0, held: 0, blocked: true, target: `${env.schema}.face_templates` } });
    expect(lines((await runMain(['audit', 'list', '--config', file])).stdout).filter((l) => l.includes('INCIDENT: 4 found (blocked)'))).toHaveLength(2);
  });

  it('a dry run says what it found and records no incident', async () => {
    await faces(2);
    const file = write([FACE]);
    const run = await runMain(['run', '--rule', 'face-data', '--dry-run', '--config', file]);
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain('INCIDENT');
    expect(lines(run.stdout)).toContain(
      `never-store rule face-data found 2 item(s) in ${env.schema}.face_templates (dry run: nothing changed; a real sweep removes them and records an incident)`,
    );
    expect(await env.sql(`SELECT id FROM ${env.schema}.face_templates`)).toHaveLength(2);
  });
});

describe('check and a never-store rule', () => {
  it('warns when the anchor allows NULL (rows without one are never found), and exits 0', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.faces_nullable (id bigserial PRIMARY KEY, seen_at timestamptz, template bytea)`);
    const nullable = { ...FACE, id: 'face-nullable', table: 'faces_nullable', anchor: 'seen_at' };
    const file = write([FACE, nullable, { ...LOGS, id: 'logs-nullable', table: 'faces_nullable', anchor: 'seen_at', retain: 'P1Y' }]);
    const check = await runMain(['check', '--config', file]);
    expect(check.code).toBe(0);
    const warnings = lines(check.stdout + '\n' + check.stderr).filter((l) => l.includes('allows NULL'));
    // Once: for the never-store rule on the nullable column; neither for the NOT NULL one nor
    // for an ordinary rule on the same column (its NULL rows are reported as unjudged).
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(
      `rules[1].anchor: rule face-nullable is a never-store rule, and column seen_at of ${env.schema}.faces_nullable allows NULL: rows with a NULL anchor would never be found by a sweep`,
    );
    expect(warnings[0]).toContain('created_at timestamptz NOT NULL DEFAULT now()');
  });
});
