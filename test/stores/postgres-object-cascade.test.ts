import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyDigest } from '../../src/audit/key-digest.js';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { drainCascades } from '../../src/executor/drain-cascades.js';
import { executeBatch } from '../../src/executor/execute-batch.js';
import { startSweep } from '../../src/executor/start-sweep.js';
import { recordManualTrigger } from '../../src/queue/manual-trigger.js';
import type { Config } from '../../src/policy/config.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * `cascade:` end to end against the real database and a real directory: ID-photo rows own
 * their photo files; a sweep deletes expired rows and, through the outbox, their files,
 * and nothing else. Paths come from the rows, so they are treated as hostile.
 */

let env: TestEnv;
let base: string;
let root: string;
let outside: string;
let configDir: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  base = mkdtempSync(join(tmpdir(), 'retention-cascade-'));
  root = join(base, 'uploads');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(outside);
  configDir = tempDir();
});
afterEach(async () => {
  rmSync(base, { recursive: true, force: true });
  configDir.remove();
  await env.cleanup();
});

const OLD = "now() - interval '200 days'";
const NEW = "now() - interval '10 days'";

/** Rows by what they test; `file` is created under the root unless the row says otherwise. */
interface PhotoRow {
  path: string | null;
  expired: boolean;
  /** Create the file at root/path (default true for plain paths). */
  create?: boolean;
}

async function photos(rows: readonly PhotoRow[]): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.id_photos (id bigserial PRIMARY KEY, paid_at timestamptz, file_path text)`);
  for (const row of rows) {
    await env.sql(`INSERT INTO ${env.schema}.id_photos (paid_at, file_path) VALUES (${row.expired ? OLD : NEW}, $1)`, [row.path]);
    if (row.path !== null && row.create !== false) {
      mkdirSync(dirname(join(root, row.path)), { recursive: true });
      writeFileSync(join(root, row.path), 'jpeg');
    }
  }
}

function rule(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: 'id-photos-180d',
    source: 'privacy policy: ID photos are deleted 180 days after payment',
    table: 'id_photos',
    anchor: 'paid_at',
    retain: 'P180D',
    action: 'delete',
    cascade: [{ store: 'photos', path: '{file_path}' }],
    ...extra,
  };
}

/**
 * A sweep of the config's rule as `run` plans it (trigger row, planning, batches), with its
 * batches run here and no drain: the test drains when it wants to. `afterPlanning` runs
 * between planning and the batches. Returns the store whose outbox the batches filled.
 */
async function sweepWithoutDrain(runtime: Runtime, config: Config, afterPlanning?: () => Promise<void>): Promise<string | undefined> {
  const { jobId, data } = await recordManualTrigger(runtime.state, config.rules[0]!, { actor: 'test', dryRun: false });
  const started = await startSweep(runtime, jobId, data);
  await afterPlanning?.();
  let drain: string | undefined;
  for (const idx of started.enqueue!.batches) drain ??= (await executeBatch(runtime, started.enqueue!.sweepId, idx)).drain;
  return drain;
}

const stores = () => ({ stores: { app: { kind: 'postgres', url: DATABASE_URL }, photos: { kind: 'files', root } } });

function configFile(rules = [rule()]): string {
  return configDir.write('retention.yaml', env.configYaml(rules, stores()));
}

async function audit(): Promise<SweepAuditEntry[]> {
  return (await env.sql<{ entry: SweepAuditEntry }>(`SELECT entry FROM "${env.stateSchema}".audit_log ORDER BY seq`)).map((r) => r.entry);
}

async function outboxCount(): Promise<number> {
  const [row] = await env.sql<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`"${env.stateSchema}".cascade_outbox`]);
  if (!row?.t) return 0;
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM "${env.stateSchema}".cascade_outbox`))[0]!.n);
}

async function remainingPaths(): Promise<(string | null)[]> {
  return (await env.sql<{ file_path: string | null }>(`SELECT file_path FROM ${env.schema}.id_photos ORDER BY id`)).map((r) => r.file_path);
}

describe('row-to-file cascades (files store)', () => {
  it('deletes expired rows with their files, keeps unexpired rows and theirs, and never touches a path that escapes the root', async () => {
    writeFileSync(join(outside, 'passport.jpg'), 'not ours');
    mkdirSync(join(outside, 'dir'));
    writeFileSync(join(outside, 'dir', 'secret.jpg'), 'not ours either');
    symlinkSync(join(outside, 'dir'), join(root, 'linked'));
    await photos([
      { path: 'photos/2025/ada.jpg', expired: true },
      { path: 'photos/2025/grace.jpg', expired: true },
      { path: 'photos/2026/alan.jpg', expired: false },
      { path: '../outside/passport.jpg', expired: true, create: false },
      { path: join(outside, 'passport.jpg'), expired: true, create: false },
      { path: 'linked/secret.jpg', expired: true, create: false },
      { path: 'photos/2025/gone.jpg', expired: true, create: false },
      { path: null, expired: true },
      { path: 'photos/2026/edsger.jpg', expired: false },
    ]);
    const file = configFile();

    const plan = await runMain(['plan', '--config', file, '--json']);
    expect(plan.stderr).toBe('');
    const planned = JSON.parse(plan.stdout) as { rules: { affected: number; objects?: Record<string, number> }[] };
    // 7 expired rows, 6 of them with a path (the NULL one owns nothing).
    expect(planned.rules[0]).toMatchObject({ affected: 7, objects: { photos: 6 } });
    const text = await runMain(['plan', '--config', file]);
    expect(text.stdout).toContain('id-photos-180d deletes the objects its rows own: photos (6)');

    const dry = await runMain(['run', '--rule', 'id-photos-180d', '--dry-run', '--config', file]);
    expect(dry.code).toBe(0);
    expect(await outboxCount()).toBe(0);
    expect(existsSync(join(root, 'photos/2025/ada.jpg'))).toBe(true);
    expect((await remainingPaths()).length).toBe(9);
    const dryBatches = (await audit()).filter((e) => e.event === 'batch');
    expect(dryBatches.every((e) => e.dryRun)).toBe(true);
    expect(dryBatches.reduce((n, e) => n + (e.objectsQueued?.photos ?? 0), 0)).toBe(6);

    const run = await runMain(['run', '--rule', 'id-photos-180d', '--config', file]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);

    expect(await remainingPaths()).toEqual(['photos/2026/alan.jpg', 'photos/2026/edsger.jpg']);
    expect(existsSync(join(root, 'photos/2025/ada.jpg'))).toBe(false);
    expect(existsSync(join(root, 'photos/2025/grace.jpg'))).toBe(false);
    // The emptied directory went with its files; the root and live files stay.
    expect(existsSync(join(root, 'photos/2025'))).toBe(false);
    expect(readdirSync(join(root, 'photos/2026')).sort()).toEqual(['alan.jpg', 'edsger.jpg']);
    // Hostile paths from rows: nothing outside the root was touched.
    expect(existsSync(join(outside, 'passport.jpg'))).toBe(true);
    expect(existsSync(join(outside, 'dir', 'secret.jpg'))).toBe(true);
    expect(await outboxCount()).toBe(0);

    const entries = (await audit()).filter((e) => !e.dryRun);
    const batches = entries.filter((e) => e.event === 'batch');
    expect(batches.reduce((n, e) => n + e.rows, 0)).toBe(7);
    expect(batches.reduce((n, e) => n + (e.objectsQueued?.photos ?? 0), 0)).toBe(6);
    const drained = entries.filter((e) => e.event === 'cascade-drained');
    const total = { deleted: 0, missing: 0, refused: 0, failed: 0 };
    for (const e of drained) for (const k of Object.keys(total) as (keyof typeof total)[]) total[k] += e.objects?.photos?.[k] ?? 0;
    expect(total).toEqual({ deleted: 2, missing: 1, refused: 3, failed: 0 });
    const refused = drained.flatMap((e) => e.refusedObjects ?? []);
    expect(refused.map((r) => r.key).sort()).toEqual(
      ['../outside/passport.jpg', join(outside, 'passport.jpg'), 'linked/secret.jpg'].map((p) => keyDigest(Buffer.from(TEST_AUDIT_KEY), p)).sort(),
    );
    expect(refused.map((r) => r.reason).sort()).toEqual(['a symbolic link on the way', 'absolute path', 'path contains ..']);
    // No path reaches the audit log: they can hold personal data.
    const log = JSON.stringify(await audit());
    for (const text of ['.jpg', 'photos/', 'linked/', 'outside']) expect(log).not.toContain(text);
    expect(drained.every((e) => e.ruleId === 'id-photos-180d' && e.sweepId === batches[0]!.sweepId)).toBe(true);
  });

  it('queues no object for a row that stopped being expired before its batch: the row and its file stay', async () => {
    await photos([
      { path: 'a.jpg', expired: true },
      { path: 'b.jpg', expired: true },
    ]);
    const config = env.config([rule()], stores());
    const runtime = await env.runtime(config);
    const drain = await sweepWithoutDrain(runtime, config, async () => {
      // After planning, the application renews b's payment: it is no longer expired.
      await env.sql(`UPDATE ${env.schema}.id_photos SET paid_at = now() WHERE file_path = 'b.jpg'`);
    });
    expect(drain).toBe('app');
    const rows = await env.sql<{ path: string }>(`SELECT path FROM "${env.stateSchema}".cascade_outbox`);
    expect(rows.map((r) => r.path)).toEqual(['a.jpg']);
    expect(await drainCascades(runtime, 'app')).toEqual({ deleted: 1, missing: 0, refused: 0, failed: 0, kept: 0 });
    expect(existsSync(join(root, 'a.jpg'))).toBe(false);
    expect(existsSync(join(root, 'b.jpg'))).toBe(true);
    expect(await remainingPaths()).toEqual(['b.jpg']);
  });

  it('keeps a file a new row names again between the delete and the drain: it belongs to that row now', async () => {
    await photos([
      { path: 'u1.jpg', expired: true },
      { path: 'u2.jpg', expired: true },
    ]);
    const config = env.config([rule()], stores());
    const runtime = await env.runtime(config);
    await sweepWithoutDrain(runtime, config);
    // Both rows are gone and both files queued; before the drain runs, user 1 uploads a new
    // photo to the same path, and the application writes its row.
    await env.sql(`INSERT INTO ${env.schema}.id_photos (paid_at, file_path) VALUES (now(), 'u1.jpg')`);
    writeFileSync(join(root, 'u1.jpg'), 'new jpeg');
    expect(await drainCascades(runtime, 'app')).toEqual({ deleted: 1, missing: 0, refused: 0, failed: 0, kept: 1 });
    expect(existsSync(join(root, 'u1.jpg'))).toBe(true);
    expect(existsSync(join(root, 'u2.jpg'))).toBe(false);
    expect(await outboxCount()).toBe(0);
    const drained = (await audit()).filter((e) => e.event === 'cascade-drained');
    expect(drained.map((e) => e.objects)).toEqual([{ photos: { deleted: 1, missing: 0, refused: 0, failed: 0, kept: 1 } }]);
  });

  it('holds the queued files of a rule whose cascade was taken out of the config before the drain: none is deleted', async () => {
    await photos([{ path: 'u1.jpg', expired: true }]);
    const config = env.config([rule()], stores());
    const runtime = await env.runtime(config);
    await sweepWithoutDrain(runtime, config);
    // The row is gone and its file queued; the operator now stops deleting photos with the
    // rows (a hold on the files) and deploys the rule without its cascade.
    const without = env.config([{ ...rule(), cascade: undefined }], stores());
    expect(await drainCascades(await env.runtime(without), 'app')).toMatchObject({ deleted: 0, failed: 1 });
    expect(existsSync(join(root, 'u1.jpg'))).toBe(true);
    expect(await outboxCount()).toBe(1);
  });

  it('queues nothing for rows a batch had to leave (a foreign key still points at them): those rows and their files stay', async () => {
    await photos([
      { path: 'a.jpg', expired: true },
      { path: 'b.jpg', expired: true },
      { path: 'c.jpg', expired: true },
    ]);
    // An order still references b: its DELETE fails, the batch isolates it and goes on.
    await env.sql(`CREATE TABLE ${env.schema}.orders (id serial PRIMARY KEY, photo_id bigint REFERENCES ${env.schema}.id_photos)`);
    await env.sql(`INSERT INTO ${env.schema}.orders (photo_id) SELECT id FROM ${env.schema}.id_photos WHERE file_path = 'b.jpg'`);
    const config = env.config([rule()], stores());
    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(2);
    expect(await remainingPaths()).toEqual(['b.jpg']);
    expect(existsSync(join(root, 'b.jpg'))).toBe(true);
    expect(existsSync(join(root, 'a.jpg'))).toBe(false);
    expect(existsSync(join(root, 'c.jpg'))).toBe(false);
    const batch = (await audit()).find((e) => e.event === 'batch')!;
    expect(batch.objectsQueued).toEqual({ photos: 2 });
    expect(batch.skippedRows).toHaveLength(1);
  });

  it('keeps an entry whose file cannot be deleted now, and deletes it on a later drain', async () => {
    await photos([{ path: 'locked/a.jpg', expired: true }]);
    const config = env.config([rule()], stores());
    const runtime = await env.runtime(config);
    const results = await env.run(config);
    expect(results[0]!.sweep.rowsAffected).toBe(1);
    // run drained already: gone.
    expect(existsSync(join(root, 'locked/a.jpg'))).toBe(false);
    // Now an entry whose store's root is gone: the whole store fails, the entry waits.
    await env.sql(`INSERT INTO "${env.stateSchema}".cascade_outbox (store, path, rule_id) VALUES ('photos', 'b.jpg', 'id-photos-180d')`);
    writeFileSync(join(base, 'b.jpg'), 'x');
    rmSync(root, { recursive: true });
    expect(await drainCascades(runtime, 'app')).toMatchObject({ deleted: 0, failed: 1 });
    expect(await outboxCount()).toBe(1);
    mkdirSync(root);
    writeFileSync(join(root, 'b.jpg'), 'x');
    await env.sql(`UPDATE "${env.stateSchema}".cascade_outbox SET not_before = now()`);
    expect(await drainCascades(runtime, 'app')).toMatchObject({ deleted: 1, failed: 0 });
    expect(existsSync(join(root, 'b.jpg'))).toBe(false);
    expect(await outboxCount()).toBe(0);
  });
});

describe('cascade in the config', () => {
  const configBase = {
    redis: 'redis://127.0.0.1:6379',
    state: 'postgres://127.0.0.1/test',
    stores: {
      app: { kind: 'postgres', url: 'postgres://127.0.0.1/test' },
      cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' },
      photos: { kind: 'files', root: '/srv/uploads' },
    },
  };
  const problems = (rules: Record<string, unknown>[]): string[] => {
    try {
      parseConfig(stringify({ ...configBase, rules }), 'cascade.yaml', {}, STORE_KINDS);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
      throw error;
    }
    return [];
  };
  const sqlRule = (extra: Record<string, unknown>) => ({ id: 'r', store: 'app', table: 'id_photos', anchor: 'paid_at', retain: 'P180D', action: 'delete', ...extra });

  it('refuses a cascade into a store that does not exist or holds no objects, by path', () => {
    expect(problems([sqlRule({ cascade: [{ store: 'scans', path: '{p}' }] })])).toEqual(['rules[0].cascade[0].store: "scans" is not a store of this config (files and s3 stores: photos)']);
    expect(problems([sqlRule({ cascade: [{ store: 'cache', path: '{p}' }] })])).toEqual(['rules[0].cascade[0].store: store cache is redis; a row\'s objects live in a files or s3 store']);
  });

  it('refuses malformed templates and cascades on rules that delete no row', () => {
    expect(problems([sqlRule({ cascade: [{ store: 'photos', path: 'photos/fixed.jpg' }] })])[0]).toMatch(/^rules\[0\]\.cascade\[0\]\.path: .* names no column/);
    expect(problems([sqlRule({ cascade: [{ store: 'photos', path: '{file path}' }] })])[0]).toMatch(/^rules\[0\]\.cascade\[0\]\.path: .* is not a column placeholder/);
    expect(problems([sqlRule({ cascade: [{ store: 'photos', path: '{a' }] })])[0]).toMatch(/never closed/);
    expect(problems([sqlRule({ action: 'anonymize', anonymize: { email: 'null' }, cascade: [{ store: 'photos', path: '{p}' }] })])).toContain(
      'rules[0].cascade: cascade is for rules that delete rows of a PostgreSQL table: a row\'s files go when the row goes, and an anonymize rule deletes no row',
    );
    expect(problems([{ id: 'f', store: 'photos', path: '**/*.jpg', anchor: 'mtime', retain: 'P1D', action: 'delete', cascade: [{ store: 'photos', path: '{p}' }] }])[0]).toMatch(/^rules\[0\]\.cascade: /);
  });

  it('makes the cascade part of the rule definition: changing it changes the hash', () => {
    const hash = (rule: Record<string, unknown>) => parseConfig(stringify({ ...configBase, rules: [rule] }), 'c.yaml', {}, STORE_KINDS).rules[0]!.hash;
    const without = hash(sqlRule({}));
    const withCascade = hash(sqlRule({ cascade: [{ store: 'photos', path: '{file_path}' }] }));
    const otherTemplate = hash(sqlRule({ cascade: [{ store: 'photos', path: 'scans/{file_path}' }] }));
    expect(new Set([without, withCascade, otherTemplate]).size).toBe(3);
  });

  it('check refuses a template column the table does not have', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.id_photos (id bigserial PRIMARY KEY, paid_at timestamptz, file_path text)`);
    const file = configDir.write('retention.yaml', env.configYaml([rule({ cascade: [{ store: 'photos', path: 'scans/{scan_path}' }] })], stores()));
    const check = await runMain(['check', '--config', file]);
    expect(check.code).toBe(2);
    expect(`${check.stdout}\n${check.stderr}`).toContain('rules[0].cascade[0].path: column scan_path of template "scans/{scan_path}" does not exist');
  });
});
