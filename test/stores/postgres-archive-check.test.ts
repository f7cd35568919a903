import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * `check` of an archive rule against the live database: the archive table must take the
 * rule's rows exactly as they are (errors at `rules[N].archiveTable`), should be restricted
 * and swept by a further rule (warnings). Also: foreign keys cascade from an archive move
 * as from a delete, and range partitions are never dropped by one.
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let s: string;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  s = env.schema;
  await env.sql(`CREATE TABLE ${s}.tickets (id bigserial PRIMARY KEY, email text, body text, score numeric(5,2), closed_at timestamptz)`);
  await env.sql(`CREATE INDEX ON ${s}.tickets (email)`);
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const archive = (extra: Record<string, unknown> = {}) => ({
  id: 'tickets-archive',
  table: 'tickets',
  anchor: 'closed_at',
  retain: 'P1Y',
  action: 'archive',
  archiveTable: `${s}.tickets_archive`,
  ...extra,
});
const sweepArchive = (extra: Record<string, unknown> = {}) => ({ id: 'archive-2y', table: 'tickets_archive', anchor: 'closed_at', retain: 'P2Y', action: 'delete', ...extra });

/** `check` on these rules; its exit code, and each error and warning line without the file name. */
async function check(rules: Record<string, unknown>[], extra: Record<string, unknown> = {}) {
  const file = files.write('retention.yaml', env.configYaml(rules, extra));
  const outcome = await runMain(['check', '--config', file]);
  const strip = (line: string) => line.replace(`${file}: `, '').replace(/^retention: /, '');
  // Problems of the rules only (not of the test database's role, which is a superuser).
  const lines = outcome.stderr.split('\n').filter((l) => l.includes(`${file}: rules[`)).map(strip);
  return { code: outcome.code, errors: lines.filter((l) => !l.startsWith('warning: ')), warnings: lines.filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length)) };
}

const archiveTable = (columns: string) => env.sql(`CREATE TABLE ${s}.tickets_archive (${columns}); REVOKE ALL ON ${s}.tickets_archive FROM PUBLIC`);
const SAME_COLUMNS = 'id bigint PRIMARY KEY, email text, body text, score numeric(5,2), closed_at timestamptz';

describe('check of an archive table', () => {
  it('passes an archive table with the same columns, plus its own with a default, restricted and swept by a rule', async () => {
    await archiveTable(`${SAME_COLUMNS}, archived_at timestamptz NOT NULL DEFAULT now(), note text`);
    expect(await check([archive(), sweepArchive()])).toEqual({ code: 0, errors: [], warnings: [] });
  });

  it('refuses an archive table that does not exist', async () => {
    expect(await check([archive()])).toMatchObject({
      code: 2,
      errors: [`rules[0].archiveTable: archive table ${s}.tickets_archive does not exist (create it with the columns of ${s}.tickets: see README.md, "Archive")`],
    });
  });

  it('refuses an archive table missing a column, with a column of another type, or a generated one', async () => {
    await archiveTable("id bigint PRIMARY KEY, email varchar(200), score numeric(6,2), closed_at timestamptz GENERATED ALWAYS AS (timestamptz '2000-01-01 00:00:00+00') STORED");
    const outcome = await check([archive(), sweepArchive({ anchor: 'id' })]);
    expect(outcome.code).toBe(2);
    expect(outcome.errors).toEqual(
      expect.arrayContaining([
        `rules[0].archiveTable: column email of ${s}.tickets_archive is character varying(200), but text in ${s}.tickets; archived values must keep their type`,
        `rules[0].archiveTable: ${s}.tickets_archive has no column body (text) of ${s}.tickets: its values would be lost`,
        `rules[0].archiveTable: column score of ${s}.tickets_archive is numeric(6,2), but numeric(5,2) in ${s}.tickets; archived values must keep their type`,
        `rules[0].archiveTable: column closed_at of ${s}.tickets_archive is GENERATED, so it cannot take the archived value`,
      ]),
    );
  });

  it('refuses a column of its own that is NOT NULL without a default: the move would fail on every row', async () => {
    await archiveTable(`${SAME_COLUMNS}, archived_by text NOT NULL`);
    expect((await check([archive(), sweepArchive()])).errors).toEqual([
      `rules[0].archiveTable: column archived_by of ${s}.tickets_archive is NOT NULL without a default, and ${s}.tickets has no such column to fill it (give it a default, e.g. archived_at timestamptz NOT NULL DEFAULT now())`,
    ]);
  });

  it('refuses an archive table that is a view, or the rule\'s own table under another name', async () => {
    await env.sql(`CREATE VIEW ${s}.tickets_archive AS SELECT * FROM ${s}.tickets`);
    expect((await check([archive()])).errors).toEqual([`rules[0].archiveTable: ${s}.tickets_archive is not a table (views and other relations cannot hold archived rows)`]);
    // `tickets` found through the search path is the rule's own `${s}.tickets`.
    const url = `${DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${s}`)}`;
    expect((await check([archive({ archiveTable: 'tickets' })], { stores: { app: { kind: 'postgres', url } } })).errors).toEqual([
      `rules[0].archiveTable: tickets is the rule's own table ${s}.tickets; an archive rule moves rows to another table`,
    ]);
  });

  it('refuses an archive table in the state schema, however its name resolves', async () => {
    await env.sql(`CREATE SCHEMA IF NOT EXISTS ${env.stateSchema}; CREATE TABLE ${env.stateSchema}.tickets_archive (${SAME_COLUMNS})`);
    const url = `${DATABASE_URL}?options=${encodeURIComponent(`-c search_path=${env.stateSchema}`)}`;
    const outcome = await check([archive({ archiveTable: 'tickets_archive' })], { stores: { app: { kind: 'postgres', url } } });
    expect(outcome.errors).toContain(`rules[0].archiveTable: tickets_archive resolves to ${env.stateSchema}.tickets_archive, in this config's own state schema (stateSchema); rows are never archived there`);
  });

  it('warns when PUBLIC can reach the archive table', async () => {
    await archiveTable(SAME_COLUMNS);
    await env.sql(`GRANT SELECT, INSERT ON ${s}.tickets_archive TO PUBLIC`);
    expect(await check([archive(), sweepArchive()])).toEqual({
      code: 0,
      errors: [],
      warnings: [`rules[0].archiveTable: PUBLIC holds INSERT, SELECT on ${s}.tickets_archive: every role can reach the archived rows; restrict it (REVOKE ALL ON ${s}.tickets_archive FROM PUBLIC)`],
    });
    // A column-level grant reaches archived values too.
    await env.sql(`REVOKE ALL ON ${s}.tickets_archive FROM PUBLIC; GRANT SELECT (email) ON ${s}.tickets_archive TO PUBLIC`);
    expect((await check([archive(), sweepArchive()])).warnings).toEqual([
      `rules[0].archiveTable: PUBLIC holds SELECT on ${s}.tickets_archive: every role can reach the archived rows; restrict it (REVOKE ALL ON ${s}.tickets_archive FROM PUBLIC)`,
    ]);
  });

  it('warns when no rule sweeps the archive table (archived rows kept forever), or none names the person there', async () => {
    await archiveTable(SAME_COLUMNS);
    expect(await check([archive()])).toEqual({
      code: 0,
      errors: [],
      warnings: [`rules[0].archiveTable: no rule of the config sweeps ${s}.tickets_archive, so archived rows would be kept forever; add a rule on it (e.g. anchored on an archived_at column, or on closed_at)`],
    });
    await env.sql(`CREATE INDEX ON ${s}.tickets_archive (email)`);
    expect((await check([archive({ subject: 'email' }), sweepArchive()])).warnings).toEqual([
      `rules[0].archiveTable: rule tickets-archive names the person (subject: email) but no rule on ${s}.tickets_archive does (archive-2y), so erasure requests would not reach archived rows; give that rule subject: email`,
    ]);
    expect((await check([archive({ subject: 'email' }), sweepArchive({ subject: 'email' })])).warnings).toEqual([]);
  });
});

describe('foreign keys and partitions of an archived table', () => {
  it('refuses an archive rule whose move would cascade into other tables unless it says cascades: allow; with it, counts, deletes and audits the children', async () => {
    await archiveTable(`${SAME_COLUMNS}, archived_at timestamptz NOT NULL DEFAULT now()`);
    await env.sql(`CREATE TABLE ${s}.messages (id bigserial PRIMARY KEY, ticket_id bigint NOT NULL REFERENCES ${s}.tickets (id) ON DELETE CASCADE, text text)`);
    await env.sql(`CREATE INDEX ON ${s}.messages (ticket_id)`);
    await env.sql(`INSERT INTO ${s}.tickets (email, closed_at) SELECT 'u' || g || '@example.com', now() - interval '400 days' FROM generate_series(1, 3) g`);
    await env.sql(`INSERT INTO ${s}.tickets (email, closed_at) VALUES ('young@example.com', now())`);
    await env.sql(`INSERT INTO ${s}.messages (ticket_id, text) SELECT t.id, 'hello' FROM ${s}.tickets t, generate_series(1, 2)`);

    const refused = await check([archive(), sweepArchive()]);
    expect(refused.code).toBe(2);
    expect(refused.errors).toEqual([expect.stringMatching(new RegExp(`^rules\\[0\\]\\.table: deleting these rows also changes rows of other tables through foreign keys: ${s}\\.messages \\(messages_ticket_id_fkey: ON DELETE CASCADE\\)`))]);

    const file = files.write('allowed.yaml', env.configYaml([archive({ cascades: 'allow' }), sweepArchive()]));
    expect((await runMain(['check', '--config', file])).code).toBe(0);
    const plan = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout) as { rules: Record<string, unknown>[] };
    expect(plan.rules[0]).toMatchObject({ affected: 3, cascaded: { [`${s}.messages`]: 6 } });
    const run = await runMain(['run', '--rule', 'tickets-archive', '--json', '--config', file]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules[0]).toMatchObject({ affected: 3 });
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${s}.tickets_archive`)).toEqual([{ n: 3 }]);
    expect(await env.sql(`SELECT count(*)::int AS n FROM ${s}.messages`)).toEqual([{ n: 2 }]);
    const [batch] = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(batch!.entry).toMatchObject({ action: 'archive', rows: 3, cascaded: { [`${s}.messages`]: 6 } });
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);
  });

  it('never drops a wholly expired partition of an archived table: its rows are moved row by row', async () => {
    await env.sql(`
      CREATE TABLE ${s}.events (id bigint NOT NULL, email text, at timestamptz NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
      CREATE TABLE ${s}.events_old PARTITION OF ${s}.events FOR VALUES FROM ('2000-01-01') TO ('2001-01-01');
      CREATE TABLE ${s}.events_new PARTITION OF ${s}.events FOR VALUES FROM ('2001-01-01') TO ('2100-01-01');
      INSERT INTO ${s}.events SELECT g, 'e' || g, timestamptz '2000-06-01' + make_interval(hours => g) FROM generate_series(1, 20) g;
      INSERT INTO ${s}.events SELECT 100 + g, 'n' || g, now() FROM generate_series(1, 5) g;
      CREATE TABLE ${s}.events_archive (id bigint PRIMARY KEY, email text, at timestamptz NOT NULL, archived_at timestamptz NOT NULL DEFAULT now());
      REVOKE ALL ON ${s}.events_archive FROM PUBLIC;
    `);
    const rules = [
      { id: 'events-archive', table: 'events', anchor: 'at', retain: 'P1Y', action: 'archive', archiveTable: `${s}.events_archive` },
      { id: 'events-archive-1y', table: 'events_archive', anchor: 'archived_at', retain: 'P1Y', action: 'delete' },
    ];
    const file = files.write('retention.yaml', env.configYaml(rules));
    const planned = await runMain(['plan', '--json', '--config', file]);
    expect(planned.stderr).toBe('');
    const plan = JSON.parse(planned.stdout) as { rules: Record<string, unknown>[] };
    expect(plan.rules[0]).toMatchObject({ affected: 20 });
    expect(plan.rules[0]!.dropsPartitions).toBeUndefined();
    const run = await runMain(['run', '--rule', 'events-archive', '--json', '--config', file]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules[0]).toMatchObject({ affected: 20 });
    // The partition is still there, empty; its rows are in the archive.
    expect(await env.sql(`SELECT to_regclass('${s}.events_old')::text AS t, (SELECT count(*)::int FROM ${s}.events_old) AS n`)).toEqual([{ t: `${s}.events_old`, n: 0 }]);
    expect(await env.sql(`SELECT count(*)::int AS n, min(id)::int AS lo, max(id)::int AS hi FROM ${s}.events_archive`)).toEqual([{ n: 20, lo: 1, hi: 20 }]);
    const batches = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch'`);
    expect(batches.every((b) => b.entry.dropped === undefined && b.entry.action === 'archive')).toBe(true);
  });
});
