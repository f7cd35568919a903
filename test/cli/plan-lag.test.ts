import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from './cli-harness.js';

/** `plan` shows each rule's lag: how long ago the oldest expired row still present reached its end. */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete' };

describe('plan lag', () => {
  it('--json gives the lag in ms and the oldest expired row end; the text plan says it', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES ('2026-01-01T06:00:00Z'), ('2026-01-02T00:00:00Z'), ('2026-01-09T00:00:00Z')`);
    const file = files.write('a.yaml', env.configYaml([logsRule]));
    const json = await runMain(['plan', '--json', '--now', '2026-01-05T00:00:00Z', '--config', file]);
    expect(json.stderr).toBe('');
    const [logs] = JSON.parse(json.stdout).rules as { id: string; affected: number; lagMs: number; oldestExpiredEnd: string | null }[];
    expect(logs).toMatchObject({ id: 'logs', affected: 2, lagMs: 3 * 86_400_000 - 6 * 3_600_000, oldestExpiredEnd: '2026-01-02T06:00:00.000Z' });
    const text = await runMain(['plan', '--now', '2026-01-05T00:00:00Z', '--config', file]);
    expect(text.stdout).toContain('logs: lag 2d 18h: the oldest expired item still present reached its end at 2026-01-02T06:00:00.000Z');
  });

  it('is 0 with no end when nothing expired is left, and the text plan says nothing of it', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES ('2026-01-09T00:00:00Z')`);
    const file = files.write('a.yaml', env.configYaml([logsRule]));
    const json = await runMain(['plan', '--json', '--now', '2026-01-05T00:00:00Z', '--config', file]);
    expect(JSON.parse(json.stdout).rules[0]).toMatchObject({ lagMs: 0, oldestExpiredEnd: null });
    const text = await runMain(['plan', '--now', '2026-01-05T00:00:00Z', '--config', file]);
    expect(text.stdout).not.toContain('lag');
  });

  it('audit list shows the lag a sweep had when it was planned, in its closing entry', async () => {
    // The oldest row reached its end two days ago (retain P1D, anchored three days ago).
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now() - interval '3 days'), (now())`);
    const file = files.write('a.yaml', env.configYaml([logsRule]));
    expect((await runMain(['run', '--rule', 'logs', '--config', file])).code).toBe(0);
    const list = await runMain(['audit', 'list', '--config', file]);
    expect(list.code).toBe(0);
    const [header, ...rows] = list.stdout.trim().split('\n');
    expect(header).toMatch(/\brows\s+lag\b/);
    const closing = rows.find((r) => /sweep-finished/.test(r));
    expect(closing).toMatch(/\b1\s+2d\b/);
  });
});
