import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { subjectDigest } from '../../src/people/subject-digest.js';
import { createTestEnv, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';
import { lines, runMain, tempDir, type CliOutcome } from './cli-harness.js';

/**
 * `retention hold add | release | list`: what an operator places and releases is recorded
 * and audited under the subject's digest; the person's identifier is nowhere in the state
 * database, the audit log or the output. Mistakes are one message, exit 2.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let file: string;
let subject: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
  await env.sql(`CREATE TABLE ${env.schema}.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  file = files.write(
    'retention.yaml',
    env.configYaml([
      { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id' },
      { id: 'events', table: 'events', anchor: 'at', retain: 'P1D', action: 'delete' },
    ]),
  );
  // Unique to this test, so finding it anywhere can only mean we wrote it.
  subject = `alice.${env.id}@example.com`;
});
afterEach(async () => {
  vi.unstubAllEnvs();
  files.remove();
  await env.cleanup();
});

const hold = (...args: string[]) => runMain(['hold', ...args, '--config', file]);

/** Every row of every table in the state schema, as text. */
async function stateText(): Promise<string> {
  const tables = await env.sql<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1', [env.stateSchema]);
  const texts = await Promise.all(tables.map(({ table_name }) => env.sql<{ t: string }>(`SELECT t::text AS t FROM "${env.stateSchema}"."${table_name}" t`)));
  return texts.flat().map((r) => r.t).join('\n');
}

async function holdEntries(): Promise<Record<string, unknown>[]> {
  const rows = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' LIKE 'hold-%' ORDER BY seq`);
  return rows.map((r) => r.entry);
}

describe('retention hold', () => {
  it('adds, lists and releases holds, audits each, and never stores or prints the identifier', async () => {
    const digest = subjectDigest(Buffer.from(TEST_AUDIT_KEY), subject);
    const outputs: CliOutcome[] = [];
    const ok = async (outcome: Promise<CliOutcome>) => {
      const done = await outcome;
      outputs.push(done);
      expect(done).toMatchObject({ code: 0, stderr: '' });
      return done;
    };

    const everywhere = await ok(hold('add', '--subject', subject, '--reason', 'case 2026-17', '--until', '2099-01-01T00:00:00Z', '--actor', 'legal:kim'));
    expect(everywhere.stdout).toBe(
      `hold 1 placed on subject ${digest.slice(0, 12)} in every rule that declares a subject (logs), until 2099-01-01T00:00:00.000Z; recorded as legal:kim`,
    );
    const whole = JSON.parse((await ok(hold('add', '--rule', 'events', '--reason', 'regulator inquiry', '--actor', 'legal:kim', '--json'))).stdout);
    expect(whole).toMatchObject({ id: '2', subject: null, rule: 'events', reason: 'regulator inquiry', until: null, createdBy: 'legal:kim', releasedAt: null });
    expect((await ok(hold('add', '--subject', subject, '--rule', 'logs', '--reason', 'case 2026-18', '--actor', 'legal:kim'))).stdout).toBe(
      `hold 3 placed on subject ${digest.slice(0, 12)} in rule logs; recorded as legal:kim`,
    );

    const listed = lines((await ok(hold('list'))).stdout);
    expect(listed[0]).toMatch(/^hold\s+subject\s+rule\s+reason\s+until\s+created\s+by\s+released$/);
    expect(listed.slice(2).map((l) => l.split(/\s{2,}/).slice(0, 4))).toEqual([
      ['3', digest.slice(0, 12), 'logs', 'case 2026-18'],
      ['2', '(whole rule)', 'events', 'regulator inquiry'],
      ['1', digest.slice(0, 12), 'all rules', 'case 2026-17'],
    ]);

    expect((await ok(hold('release', '1', '--reason', 'case settled', '--actor', 'legal:kim'))).stdout).toBe(
      `released hold 1 (subject ${digest.slice(0, 12)} in all rules: case 2026-17); recorded as legal:kim`,
    );
    // By subject: every unreleased hold on the person (here the one left, in rule logs).
    const bySubject = JSON.parse((await ok(hold('release', '--subject', subject, '--actor', 'legal:kim', '--json'))).stdout);
    expect(bySubject).toEqual([expect.objectContaining({ id: '3', subject: digest, rule: 'logs', releasedBy: 'legal:kim', releaseReason: null })]);

    expect(JSON.parse((await ok(hold('list', '--json'))).stdout).map((h: { id: string }) => h.id)).toEqual(['2']);
    const all = JSON.parse((await ok(hold('list', '--all', '--json'))).stdout) as { id: string; releasedAt: string | null; releaseReason: string | null }[];
    expect(all.map((h) => [h.id, h.releasedAt !== null, h.releaseReason])).toEqual([
      ['3', true, null],
      ['2', false, null],
      ['1', true, 'case settled'],
    ]);
    expect(lines((await ok(hold('list', '--all'))).stdout)[4]).toMatch(/ by legal:kim \(case settled\)$/);

    expect(await holdEntries()).toEqual([
      expect.objectContaining({ event: 'hold-added', holdId: '1', subject: digest, ruleId: null, reason: 'case 2026-17', until: '2099-01-01T00:00:00.000Z', actor: 'legal:kim' }),
      expect.objectContaining({ event: 'hold-added', holdId: '2', ruleId: 'events', reason: 'regulator inquiry', until: null, actor: 'legal:kim' }),
      expect.objectContaining({ event: 'hold-added', holdId: '3', subject: digest, ruleId: 'logs', reason: 'case 2026-18' }),
      expect.objectContaining({ event: 'hold-released', holdId: '1', subject: digest, ruleId: null, reason: 'case settled', actor: 'legal:kim' }),
      expect.objectContaining({ event: 'hold-released', holdId: '3', subject: digest, ruleId: 'logs', actor: 'legal:kim' }),
    ]);
    expect((await holdEntries())[1]).not.toHaveProperty('subject');
    expect(await runMain(['audit', 'verify', '--config', file])).toMatchObject({ code: 0 });

    // The identifier, as text or as bytes (a bytea column reads as hex), is nowhere.
    const hex = Buffer.from(subject, 'utf8').toString('hex');
    const state = await stateText();
    expect(state).toContain(digest);
    expect(state).not.toContain(subject);
    expect(state).not.toContain(hex);
    for (const { stdout, stderr } of outputs) expect(stdout + stderr).not.toContain(subject);
  });

  it.each([
    [['add', '--subject', 'x'], 'say why with --reason TEXT'],
    [['add', '--subject', 'x', '--reason', '  '], 'say why with --reason TEXT'],
    [['add', '--reason', 'r'], 'say what to hold: --subject ID'],
    [['add', '--subject', '', '--reason', 'r'], '--subject: an empty identifier names nobody'],
    [['add', '--rule', 'nope', '--reason', 'r'], '--rule: no rule "nope" in'],
    [['add', '--subject', 'x', '--rule', 'events', '--reason', 'r'], 'rule events declares no subject, so it cannot tell whose its items are'],
    [['add', '--rule', 'events', '--reason', 'r', '--until', '2099-01-01T00:00'], '--until: "2099-01-01T00:00" has no offset'],
    [['add', '--rule', 'events', '--reason', 'r', '--lock-timeout', '0'], '--lock-timeout: "0" is not a number of seconds above 0 and at most 300'],
    [['release'], 'say which hold to release'],
    [['release', '1', '--subject', 'x'], 'give a hold id or --subject ID, not both'],
  ])('refuses %j before touching the state database', async (args, message) => {
    const outcome = await hold(...args);
    expect(outcome.code).toBe(2);
    expect(lines(outcome.stderr)).toEqual([expect.stringContaining(message)]);
    const schema = await env.sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [env.stateSchema]);
    expect(schema).toEqual([]);
  });

  it('refuses an --until in the past, unknown or released ids, and a subject nobody holds; nothing is recorded', async () => {
    const refused = async (args: string[], message: string) => {
      const outcome = await hold(...args);
      expect(outcome).toMatchObject({ code: 2, stdout: '' });
      expect(lines(outcome.stderr)).toEqual([expect.stringContaining(message)]);
    };
    await refused(['add', '--rule', 'events', '--reason', 'r', '--until', '2001-01-01T00:00:00Z'], '--until 2001-01-01T00:00:00.000Z is not in the future');
    await refused(['release', 'abc'], '"abc" is not a hold id');
    await refused(['release', '99999999999999999999'], 'is not a hold id');
    await refused(['release', '7'], 'no hold 7');
    await refused(['release', '--subject', subject], 'no unreleased hold on that subject');
    expect(await env.sql(`SELECT id FROM ${env.stateSchema}.holds`)).toEqual([]);
    expect(await holdEntries()).toEqual([]);

    expect((await hold('add', '--rule', 'events', '--reason', 'r')).code).toBe(0);
    expect((await hold('release', '1')).code).toBe(0);
    await refused(['release', '1'], 'hold 1 was released at');
    expect((await holdEntries()).map((e) => e.event)).toEqual(['hold-added', 'hold-released']);
  });

  it('refuses add and release without the audit key, touching nothing', async () => {
    vi.stubEnv('RETENTION_AUDIT_KEY', '');
    for (const args of [
      ['add', '--subject', subject, '--reason', 'r'],
      ['release', '--subject', subject],
    ]) {
      const outcome = await hold(...args);
      expect(outcome.code).toBe(2);
      expect(lines(outcome.stderr)).toEqual([expect.stringMatching(/^retention: RETENTION_AUDIT_KEY is not set/)]);
    }
    expect(await env.sql('SELECT 1 FROM pg_namespace WHERE nspname = $1', [env.stateSchema])).toEqual([]);
  });
});
