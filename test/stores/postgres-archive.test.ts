import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { runSweeps } from '../../src/queue/run-sweeps.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * `action: archive` on PostgreSQL (issue 9, Udesk's "delete, anonymize and archive"): a
 * sweep moves exactly the expired rows, every column as it was, to the archive table in
 * one statement per batch, where a further rule expires them.
 */

const HELD = 'held@example.com';

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let s: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.conversations (
      id bigserial PRIMARY KEY, customer_email text, body text, tags text[], meta jsonb,
      score numeric(5,2), started_on date NOT NULL DEFAULT current_date, ended_at timestamptz);
    CREATE TABLE ${s}.conversations_archive (
      LIKE ${s}.conversations INCLUDING CONSTRAINTS INCLUDING INDEXES,
      archived_at timestamptz NOT NULL DEFAULT now());
    REVOKE ALL ON ${s}.conversations_archive FROM PUBLIC;
    CREATE INDEX ON ${s}.conversations (customer_email);
    CREATE INDEX ON ${s}.conversations_archive (customer_email);
  `);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

/** Rows of every kind: expired (varied values), young, held and expired, and never judged (NULL anchor). */
async function seed(): Promise<void> {
  await env.sql(
    `INSERT INTO ${s}.conversations (customer_email, body, tags, meta, score, started_on, ended_at)
     SELECT 'c' || g || '@example.com', 'conversation ' || g || E' \\u00e9\\n', ARRAY['t' || g, NULL], jsonb_build_object('n', g, 'x', ARRAY[g, g]),
            g * 1.25, date '2020-01-01' + g, now() - make_interval(days => 400 + g)
       FROM generate_series(1, 10) g`,
  );
  await env.sql(`INSERT INTO ${s}.conversations (customer_email, body, ended_at) SELECT 'young' || g || '@example.com', 'young', now() - interval '10 days' FROM generate_series(1, 4) g`);
  await env.sql(`INSERT INTO ${s}.conversations (customer_email, body, ended_at) SELECT $1, 'held ' || g, now() - interval '500 days' FROM generate_series(1, 3) g`, [HELD]);
  await env.sql(`INSERT INTO ${s}.conversations (customer_email, body, ended_at) VALUES ('open@example.com', 'still open', NULL)`);
}

const archiveRule = () => ({
  id: 'conversations-archive',
  source: 'Udesk privacy statement, 6. Safety and Retention: we will delete, anonymize and archive your personal data',
  table: 'conversations',
  anchor: 'ended_at',
  retain: 'P1Y',
  action: 'archive',
  archiveTable: `${s}.conversations_archive`,
  subject: 'customer_email',
});
const expireRule = () => ({
  id: 'archived-conversations-30d',
  table: 'conversations_archive',
  anchor: 'archived_at',
  retain: 'P30D',
  action: 'delete',
  subject: 'customer_email',
});

const rowsOf = async (table: string, where = 'true') =>
  (await env.sql<{ row: Record<string, unknown> }>(`SELECT to_jsonb(t) - 'archived_at' AS row FROM ${s}.${table} t WHERE ${where} ORDER BY id`)).map((r) => r.row);

describe('action: archive through the CLI', () => {
  it('moves exactly the expired rows with every value, keeps young, held and unjudged rows, audits archive, and a further rule expires them', async () => {
    await seed();
    const file = files.write('retention.yaml', env.configYaml([archiveRule(), expireRule()]));
    const check = await runMain(['check', '--config', file]);
    // Nothing said of the rules (the test database's superuser role may be warned of).
    expect(check.stderr).not.toContain('rules[');
    expect(check.code).toBe(0);
    expect((await runMain(['hold', 'add', '--subject', HELD, '--reason', 'litigation', '--config', file])).code).toBe(0);

    const plan = await runMain(['plan', '--config', file]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain(`conversations-archive: archive 13 rows to ${s}.conversations_archive`);
    expect(plan.stdout).toContain('conversations-archive: 3 of the affected items are kept while their subjects are on legal hold');
    const planned = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout) as { rules: Record<string, unknown>[] };
    expect(planned.rules[0]).toMatchObject({ id: 'conversations-archive', action: 'archive', affected: 13, archiveTable: `${s}.conversations_archive` });

    const expected = await rowsOf('conversations', `ended_at < now() - interval '1 year' AND customer_email <> '${HELD}'`);
    expect(expected).toHaveLength(10);
    const kept = await rowsOf('conversations', `NOT (ended_at < now() - interval '1 year' AND customer_email <> '${HELD}') OR ended_at IS NULL`);

    const run = await runMain(['run', '--all', '--json', '--config', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules).toEqual([
      expect.objectContaining({ id: 'conversations-archive', action: 'archive', affected: 10, held: 3 }),
      expect.objectContaining({ id: 'archived-conversations-30d', action: 'delete', affected: 0 }),
    ]);
    // Every column of every moved row as it was (text, arrays, jsonb, numeric, date, instant),
    // and archived_at filled by its default; the rest stayed where they were.
    expect(await rowsOf('conversations_archive')).toEqual(expected);
    expect(await rowsOf('conversations')).toEqual(kept);
    const stamped = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.conversations_archive WHERE archived_at > now() - interval '1 hour'`);
    expect(Number(stamped[0]!.n)).toBe(10);

    const entries = await env.sql<{ entry: Record<string, unknown> }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'ruleId' = 'conversations-archive' AND entry->>'event' IN ('batch', 'sweep-finished') ORDER BY seq`,
    );
    expect(entries.map((e) => [e.entry.event, e.entry.action, e.entry.rows, e.entry.dryRun])).toEqual([
      ['batch', 'archive', 10, false],
      ['sweep-finished', 'archive', 10, false],
    ]);
    expect(entries[0]!.entry).toMatchObject({ table: `${s}.conversations`, held: 3, ruleSource: archiveRule().source });
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);

    // Thirty days on for four of them: the archive's own rule deletes exactly those.
    await env.sql(`UPDATE ${s}.conversations_archive SET archived_at = now() - interval '31 days' WHERE id IN (SELECT id FROM ${s}.conversations_archive ORDER BY id LIMIT 4)`);
    const later = await runMain(['run', '--all', '--json', '--config', file]);
    expect(later.code).toBe(0);
    expect(JSON.parse(later.stdout).rules).toEqual([
      expect.objectContaining({ id: 'conversations-archive', affected: 0 }),
      expect.objectContaining({ id: 'archived-conversations-30d', action: 'delete', affected: 4 }),
    ]);
    expect(await rowsOf('conversations_archive')).toEqual(expected.slice(4));
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);
  });

  it('a dry run counts what it would move and moves nothing, audited as an archive dry run', async () => {
    await seed();
    const file = files.write('retention.yaml', env.configYaml([archiveRule(), expireRule()]));
    const before = await rowsOf('conversations');
    const dry = await runMain(['run', '--rule', 'conversations-archive', '--dry-run', '--json', '--config', file]);
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout).rules[0]).toMatchObject({ id: 'conversations-archive', action: 'archive', affected: 13 });
    expect(await rowsOf('conversations')).toEqual(before);
    expect(await rowsOf('conversations_archive')).toEqual([]);
    const batch = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(batch.map((b) => [b.entry.action, b.entry.rows, b.entry.dryRun])).toEqual([['archive', 13, true]]);
  });
});

describe('an archive move is one statement', () => {
  it('leaves the rows the archive table refuses (a CHECK constraint) in place, moves the rest, and records the skipped ones by digest', async () => {
    await seed();
    await env.sql(`ALTER TABLE ${s}.conversations_archive ADD CONSTRAINT no_secrets CHECK (body NOT LIKE 'conversation 3%' AND body NOT LIKE 'conversation 7%')`);
    const config = env.config([archiveRule(), expireRule()]);
    const [result] = await env.run(config, { ruleIds: ['conversations-archive'] });
    expect(result!.sweep.status).toBe('done');
    // 13 expired (no hold here), of which the archive refuses 2.
    expect(result!.sweep.rowsAffected).toBe(11);
    const left = (await rowsOf('conversations', `ended_at < now() - interval '1 year'`)).map((r) => r.body);
    expect(left).toEqual(['conversation 3 é\n', 'conversation 7 é\n']);
    expect((await rowsOf('conversations_archive')).map((r) => r.body)).not.toContain('conversation 3 é\n');
    expect(await rowsOf('conversations_archive')).toHaveLength(11);
    const [batch] = await env.sql<{ entry: { skippedRows: { key: string; reason: string }[] } }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(batch!.entry.skippedRows).toHaveLength(2);
    expect(batch!.entry.skippedRows[0]!.reason).toContain('no_secrets');
    expect(JSON.stringify(batch!.entry)).not.toContain('example.com');
  });

  it('keeps each row\'s own key in an archive table whose key is an identity column (GENERATED ALWAYS)', async () => {
    await seed();
    await env.sql(`DROP TABLE ${s}.conversations_archive`);
    await env.sql(`CREATE TABLE ${s}.conversations_archive (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_email text, body text, tags text[], meta jsonb,
      score numeric(5,2), started_on date NOT NULL, ended_at timestamptz, archived_at timestamptz NOT NULL DEFAULT now())`);
    const expected = await rowsOf('conversations', `ended_at < now() - interval '1 year'`);
    const [result] = await env.run(env.config([archiveRule(), expireRule()]), { ruleIds: ['conversations-archive'] });
    expect(result!.sweep.rowsAffected).toBe(13);
    expect(await rowsOf('conversations_archive')).toEqual(expected);
  });

  it('moves nothing when the archive table lacks a column: the sweep fails with the reason and every row stays', async () => {
    await seed();
    await env.sql(`ALTER TABLE ${s}.conversations_archive DROP COLUMN meta`);
    const before = await rowsOf('conversations');
    const config = env.config([archiveRule(), expireRule()]);
    const [result] = await env.run(config, { ruleIds: ['conversations-archive'] });
    expect(result!.sweep.status).toBe('failed');
    expect(result!.sweep.reason).toContain(`has no column meta (jsonb) of ${s}.conversations`);
    expect(await rowsOf('conversations')).toEqual(before);
    expect(await rowsOf('conversations_archive')).toEqual([]);
  });

  it('moves nothing when the insert itself fails on every row (a constraint no column check sees)', async () => {
    await seed();
    // A constraint the column checks cannot see: the INSERT half of the statement fails on each row.
    const config = env.config([archiveRule(), expireRule()]);
    const runtime = await env.runtime(config);
    await env.sql(`ALTER TABLE ${s}.conversations_archive ADD CONSTRAINT all_fail CHECK (score IS NOT NULL AND score > 1000)`);
    const before = await rowsOf('conversations');
    const { swept } = await runSweeps(runtime, [config.rules[0]!], { connection: env.redis(), dryRun: false, actor: 'test', concurrency: 1 });
    expect(swept[0]!.sweep.rowsAffected).toBe(0);
    expect(await rowsOf('conversations')).toEqual(before);
    expect(await rowsOf('conversations_archive')).toEqual([]);
  });

  it('reads the columns to move inside the batch: a column added to the rule\'s table since the store first read it is never dropped on the way', async () => {
    await seed();
    const config = env.config([archiveRule(), expireRule()]);
    const runtime = await env.runtime(config);
    const store = runtime.storeFor(config.rules[0]!);
    // The store reads and caches the table's catalog (check does this before a run).
    expect((await store.inspect(config.rules[0]!, 'rules[0]', runtime.contextFor(config.rules[0]!), config.rules)).filter((p) => p.severity !== 'warning')).toEqual([]);
    await env.sql(`ALTER TABLE ${s}.conversations ADD COLUMN channel text`);
    await env.sql(`UPDATE ${s}.conversations SET channel = 'phone'`);
    const before = await rowsOf('conversations');
    const { swept } = await runSweeps(runtime, [config.rules[0]!], { connection: env.redis(), dryRun: false, actor: 'test', concurrency: 1 });
    expect(swept[0]!.sweep.status).toBe('failed');
    expect(swept[0]!.sweep.reason).toContain(`has no column channel (text) of ${s}.conversations`);
    expect(await rowsOf('conversations')).toEqual(before);
    expect(await rowsOf('conversations_archive')).toEqual([]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });
});
