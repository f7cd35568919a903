import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { tempDir } from '../cli/cli-harness.js';

/**
 * The worker and a never-store rule: a sweep that finds the data is logged at `error`
 * with the rule, the target and the count, once; and with `retain: PT0S` a row written with
 * an anchor ahead is swept by next-expiry scheduling (the regular schedule is hourly), with
 * its own incident, no sooner than a minute after the previous sweep (a table that keeps
 * receiving rows is not swept every second).
 *
 * The future row is anchored well within that minute of its insert, and the minute is
 * counted from the first sweep, which comes after the insert: however long the worker takes
 * to start (up to the anchor's lead), the first sweep cannot take it and the second must.
 */

const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;
/** pino's level number. */
const ERROR = 50;

interface LogLine {
  level: number;
  msg: string;
  rule?: string;
  target?: string;
  found?: number;
  incident?: string;
}

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let child: ChildProcess | undefined;
beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
});
afterEach(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  dir.remove();
  await env.cleanup();
});

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** The row ahead of the others: due this long after its insert, well before the first sweep's minute ends. */
const LEAD_SECONDS = 45;

describe('retention worker and a never-store rule', () => {
  it('logs each incident once at error with rule, target and count, and sweeps a future anchor a minute after the last sweep', { timeout: 150_000 }, async () => {
    const table = `${env.schema}.face_templates`;
    await env.sql(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), template bytea)`);
    await env.sql(`CREATE INDEX ON ${table} (created_at)`);
    await env.sql(`INSERT INTO ${table} (created_at, template) SELECT now() - interval '1 minute', '\\xdead' FROM generate_series(1, 3)`);
    // Due ahead: only a next-expiry sweep can take it before the hourly schedule.
    const due = (await env.sql<{ due: Date }>(`INSERT INTO ${table} (created_at, template) VALUES (now() + make_interval(secs => $1), '\\xbeef') RETURNING created_at AS due`, [LEAD_SECONDS]))[0]!.due;
    const file = dir.write('retention.yaml', env.configYaml([{ id: 'face-data', table: 'face_templates', anchor: 'created_at', retain: 'PT0S', never: true, action: 'delete', schedule: 'PT1H' }]));
    child = spawn(process.execPath, [CLI, 'worker', '--config', file], { env: { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const incidents = () =>
      output
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as LogLine)
        .filter((l) => l.incident === 'never-store');

    // The first sweep, at the worker's start: the three rows, not the one ahead.
    await until('the first incident', () => incidents().length >= 1, (LEAD_SECONDS - 5) * 1000);
    expect(incidents()[0]).toEqual(
      expect.objectContaining({ level: ERROR, rule: 'face-data', target: table, found: 3, msg: `INCIDENT: never-store rule face-data found 3 items in ${table}; deleted` }),
    );
    await until('the second incident', () => incidents().length >= 2, 100_000);
    // Nothing else is due: no sweep, and no line, follows.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(incidents()).toEqual([
      expect.objectContaining({ level: ERROR, rule: 'face-data', target: table, found: 3, msg: `INCIDENT: never-store rule face-data found 3 items in ${table}; deleted` }),
      expect.objectContaining({ level: ERROR, rule: 'face-data', target: table, found: 1, msg: `INCIDENT: never-store rule face-data found 1 item in ${table}; deleted` }),
    ]);
    expect(await env.sql(`SELECT id FROM ${table}`)).toEqual([]);
    const entries = await env.sql<{ incident: { found: number }; now: string }>(
      `SELECT entry->'incident' AS incident, entry->>'now' AS now FROM ${env.stateSchema}.audit_log WHERE entry ? 'incident' ORDER BY seq`,
    );
    expect(entries.map((e) => e.incident)).toEqual([{ found: 3 }, { found: 1 }]);
    // The second sweep: a minute after the first (not at the anchor, seconds after it), and never before the anchor.
    const [first, second] = entries.map((e) => Date.parse(e.now));
    expect(second! - first!).toBeGreaterThanOrEqual(60_000);
    expect(second!).toBeGreaterThanOrEqual(due.getTime());
  });
});
