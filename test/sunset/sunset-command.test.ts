import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import type { SunsetReceipt } from '../../src/executor/apply-sunset.js';
import type { SunsetPlan } from '../../src/executor/sunset-plan.js';
import { addHold } from '../../src/executor/place-hold.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { receiptDigest } from '../../src/sunset/sunset-digest.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { createTestEnv, REDIS_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * `retention sunset` end to end on the real PostgreSQL, Redis and a files directory: an
 * inventory over two tables (a delete rule with a `where`, an anonymize rule), Redis keys
 * (an `expire` rule: deleted at sunset) and a files root, an entry kept for a stated
 * reason (with a rule on it, which the sunset must not apply), an entry no rule covers, a
 * rule no entry names, and a person on legal hold. Every number plan and receipt give is
 * checked against a count of our own (SQL, SCAN and TYPE, the directory tree).
 */

const PEOPLE = ['alice', 'bob', 'held'] as const;
const HELD = 'held';
const DAY = 86_400_000;

let env: TestEnv;
let root: string;
let keys: string;
let files: ReturnType<typeof tempDir>;
let configFile: string;

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  root = await mkdtemp(join(tmpdir(), 'retention-sunset-'));
  keys = `${env.prefix}.sunset`;
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.accounts (id bigserial PRIMARY KEY, uid text NOT NULL, email text, status text, closed_at timestamptz);
    CREATE TABLE ${s}.logins (id bigserial PRIMARY KEY, uid text NOT NULL, ip text, at timestamptz);
    CREATE TABLE ${s}.invoices (id bigserial PRIMARY KEY, uid text NOT NULL, billing_name text, issued_at timestamptz NOT NULL);
    CREATE TABLE ${s}.tickets (id bigserial PRIMARY KEY, uid text NOT NULL, email text, opened_at timestamptz NOT NULL);
    CREATE TABLE ${s}.newsletter (id bigserial PRIMARY KEY, email text, subscribed_at timestamptz NOT NULL);
  `);
  const redis = env.redis();
  for (const uid of PEOPLE) {
    // Closed long ago, closed yesterday, closed with no date (never expires), open, no status.
    await env.sql(
      `INSERT INTO ${s}.accounts (uid, email, status, closed_at) VALUES
         ($1, $1 || '@x.test', 'closed', now() - interval '5 years'), ($1, $1 || '@x.test', 'closed', now() - interval '1 day'),
         ($1, $1 || '@x.test', 'closed', NULL), ($1, $1 || '@x.test', 'open', NULL), ($1, $1 || '@x.test', NULL, now() - interval '5 years')`,
      [uid],
    );
    // Old, recent, no date, and one already anonymized.
    await env.sql(
      `INSERT INTO ${s}.logins (uid, ip, at) VALUES ($1, '203.0.113.7', now() - interval '2 years'), ($1, '203.0.113.8', now() - interval '1 hour'), ($1, '203.0.113.9', NULL), ($1, NULL, now() - interval '2 years')`,
      [uid],
    );
    await env.sql(`INSERT INTO ${s}.invoices (uid, billing_name, issued_at) VALUES ($1, 'Name', now() - interval '20 years'), ($1, 'Name', now())`, [uid]);
    await env.sql(`INSERT INTO ${s}.tickets (uid, email, opened_at) VALUES ($1, $1 || '@x.test', now() - interval '20 years')`, [uid]);
  }
  await env.sql(`INSERT INTO ${s}.newsletter (email, subscribed_at) SELECT 'n' || g || '@x.test', now() - g * interval '100 days' FROM generate_series(1, 3) g`);
  // Sessions: old, fresh, a malformed anchor, no anchor field; bob one; the held person two.
  await redis.hset(`${keys}:session:alice:s1`, { at: String(Date.now() - 400 * DAY) });
  await redis.hset(`${keys}:session:alice:s2`, { at: String(Date.now() - DAY) });
  await redis.hset(`${keys}:session:alice:s3`, { at: 'yesterday' });
  await redis.hset(`${keys}:session:alice:s4`, { other: '1' });
  await redis.hset(`${keys}:session:bob:s1`, { at: String(Date.now() - 400 * DAY) });
  await redis.hset(`${keys}:session:held:s1`, { at: String(Date.now() - 400 * DAY) });
  await redis.hset(`${keys}:session:held:s2`, { at: String(Date.now() - DAY) });
  // Not the rule's items: a key of another type, and one with no subject segment.
  await redis.set(`${keys}:session:alice:str`, 'x');
  await redis.hset(`${keys}:session::orphan`, { at: String(Date.now() - 400 * DAY) });
  // Photos: old and new for alice, bob's, the held person's; a text file the glob does not take.
  await photo('photos/alice/a.jpg', Date.now() - 400 * DAY);
  await photo('photos/alice/b.jpg', Date.now());
  await photo('photos/bob/c.jpg', Date.now() - 400 * DAY);
  await photo('photos/held/d.jpg', Date.now() - 400 * DAY);
  await photo('photos/alice/notes.txt', Date.now() - 400 * DAY);
  configFile = files.write('retention.yaml', yaml());
});

afterEach(async () => {
  await deleteKeysMatching(env.redis(), `${keys}:*`);
  await rm(root, { recursive: true, force: true });
  files.remove();
  await env.cleanup();
});

async function photo(path: string, mtimeMs: number): Promise<void> {
  const file = join(root, path);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, 'x');
  await utimes(file, mtimeMs / 1000, mtimeMs / 1000);
}

const q = (table: string) => `${env.schema}.${table}`;

function yaml(): string {
  return env.configYaml(
    [
      { id: 'accounts-closed', store: 'app', table: 'accounts', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid', where: { status: 'closed' } },
      { id: 'logins-anon', store: 'app', table: 'logins', anchor: 'at', retain: 'P6M', action: 'anonymize', anonymize: { ip: 'null' }, subject: 'uid' },
      { id: 'invoices-10y', store: 'app', table: 'invoices', anchor: 'issued_at', retain: 'P10Y', action: 'delete', subject: 'uid' },
      { id: 'newsletter-1y', store: 'app', table: 'newsletter', anchor: 'subscribed_at', retain: 'P1Y', action: 'delete' },
      { id: 'sessions', store: 'cache', keys: `${keys}:session:{subject}:*`, anchor: 'at', anchorUnit: 'ms', retain: 'P30D', action: 'expire' },
      { id: 'photos', store: 'uploads', path: 'photos/{subject}/*.jpg', anchor: 'mtime', retain: 'P180D', action: 'delete' },
    ],
    {
      stores: {
        app: { kind: 'postgres', url: env.pool.options.connectionString },
        cache: { kind: 'redis', url: REDIS_URL },
        uploads: { kind: 'files', root },
      },
      inventory: [
        { store: 'app', table: q('accounts'), columns: { email: 'email' } },
        { store: 'app', table: q('logins'), columns: { ip: 'ip' } },
        { store: 'cache', keys: `${keys}:session:{subject}:*`, categories: ['ip', 'device'] },
        { store: 'uploads', root: 'photos', categories: ['photo', 'face'] },
        { store: 'app', table: q('invoices'), columns: { billing_name: 'name' }, keptBecause: 'tax law: invoices are kept ten years' },
        { store: 'app', table: q('tickets'), columns: { email: 'email' } },
      ],
    },
  );
}

async function count(sql: string, values: unknown[] = []): Promise<number> {
  return Number((await env.sql<{ n: string }>(sql, values))[0]!.n);
}

/** What is there now, by our own reading of each store. */
async function holdings() {
  const s = env.schema;
  const redis = env.redis();
  const sessionKeys = await redis.keys(`${keys}:session:*`);
  const hashes: string[] = [];
  for (const key of sessionKeys) if ((await redis.type(key)) === 'hash') hashes.push(key);
  const photos = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name))).sort();
  return {
    closedNotHeld: await count(`SELECT count(*) AS n FROM ${s}.accounts WHERE status = 'closed' AND uid <> $1`, [HELD]),
    closedHeld: await count(`SELECT count(*) AS n FROM ${s}.accounts WHERE status = 'closed' AND uid = $1`, [HELD]),
    accountsOutside: await count(`SELECT count(*) AS n FROM ${s}.accounts WHERE status IS DISTINCT FROM 'closed'`),
    ipNotHeld: await count(`SELECT count(*) AS n FROM ${s}.logins WHERE ip IS NOT NULL AND uid <> $1`, [HELD]),
    ipHeld: await count(`SELECT count(*) AS n FROM ${s}.logins WHERE ip IS NOT NULL AND uid = $1`, [HELD]),
    logins: await count(`SELECT count(*) AS n FROM ${s}.logins`),
    invoices: await count(`SELECT count(*) AS n FROM ${s}.invoices`),
    tickets: await count(`SELECT count(*) AS n FROM ${s}.tickets`),
    newsletter: await count(`SELECT count(*) AS n FROM ${s}.newsletter`),
    // The rule's items: hashes with one segment where {subject} is.
    sessionsNotHeld: hashes.filter((k) => /:session:[^:]+:/.test(k) && !k.includes(':session:held:')).length,
    sessionsHeld: hashes.filter((k) => k.includes(':session:held:')).length,
    otherKeys: sessionKeys.filter((k) => !hashes.includes(k) || k.includes(':session::')).sort(),
    photosNotHeld: photos.filter((p) => p.endsWith('.jpg') && !p.startsWith('photos/held/')).length,
    photos,
  };
}

async function holdPerson(): Promise<void> {
  const runtime = await env.runtime(parseConfig(yaml(), configFile, { RETENTION_HMAC_KEY: TEST_HMAC_KEY }, STORE_KINDS));
  await addHold(runtime, { subject: HELD, reason: 'case 2026-17', actor: 'legal:kim' });
}

async function plan(): Promise<SunsetPlan> {
  const outcome = await runMain(['sunset', '--plan', '--json', '--config', configFile]);
  expect(outcome.stderr).toBe('');
  expect(outcome.code).toBe(0);
  return JSON.parse(outcome.stdout) as SunsetPlan;
}

async function sunsetEntries(): Promise<{ seq: number; hash: string; entry: Record<string, unknown> }[]> {
  const rows = await env.sql<{ seq: string; hash: string; entry: Record<string, unknown> }>(
    `SELECT seq, hash, entry FROM ${env.stateSchema}.audit_log WHERE entry->>'trigger' = 'sunset' ORDER BY seq`,
  );
  return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash, entry: r.entry }));
}

describe('retention sunset', () => {
  it('plans exactly what our own counts say, executes exactly that, keeps what holds, reasons and filters keep, and proves it in the audit chain', async () => {
    await holdPerson();
    const before = await holdings();
    const planned = await plan();

    const rule = (id: string) => planned.rules.find((r) => r.id === id)!;
    expect(planned.rules.map((r) => r.id)).toEqual(['accounts-closed', 'newsletter-1y', 'sessions', 'photos', 'logins-anon']);
    expect(rule('accounts-closed')).toMatchObject({ action: 'delete', affected: before.closedNotHeld, held: before.closedHeld, refused: null });
    expect(rule('logins-anon')).toMatchObject({ action: 'anonymize', affected: before.ipNotHeld, held: before.ipHeld, alreadyDone: 2 });
    expect(rule('sessions')).toMatchObject({ ruleAction: 'expire', action: 'delete', affected: before.sessionsNotHeld, held: before.sessionsHeld });
    expect(rule('photos')).toMatchObject({ action: 'delete', affected: before.photosNotHeld, held: 1 });
    // No subject: it cannot leave the held person's rows out, so the subject hold stops it whole.
    expect(rule('newsletter-1y')).toMatchObject({ affected: 0, held: before.newsletter, inventory: [], ruleHold: { reason: 'case 2026-17' }, heldWhy: expect.stringContaining('cannot tell whose its items are') });
    // The numbers themselves, so the counts above cannot agree by both being zero.
    expect([before.closedNotHeld, before.closedHeld, before.ipNotHeld, before.ipHeld, before.sessionsNotHeld, before.sessionsHeld, before.photosNotHeld]).toEqual([6, 3, 6, 3, 5, 2, 3]);
    const entry = (table: string) => planned.entries.find((e) => e.place === `table ${q(table)}`)!;
    expect(entry('accounts')).toMatchObject({ fate: 'applied', rules: ['accounts-closed'], outside: before.accountsOutside });
    expect(before.accountsOutside).toBe(6);
    expect(entry('logins')).toMatchObject({ fate: 'applied', outside: 0 });
    expect(entry('invoices')).toMatchObject({ fate: 'kept', keptBecause: 'tax law: invoices are kept ten years', rules: ['invoices-10y'] });
    expect(entry('tickets')).toMatchObject({ fate: 'gap', rules: [] });
    expect(planned.kept).toEqual([{ id: 'invoices-10y', target: q('invoices'), keptBy: ['inventory[4]'], why: [expect.stringContaining('inventory[4]')] }]);
    expect(planned.holds).toHaveLength(1);
    expect(planned.token).toMatch(/^[0-9a-f]{16}$/);

    // The text plan says it plainly.
    const text = await runMain(['sunset', '--plan', '--config', configFile]);
    expect(text.stdout).toContain(`table ${q('tickets')} on store app (email): no rule: nothing happens (a gap)`);
    expect(text.stdout).toContain('kept, nothing touched: "tax law: invoices are kept ten years"');
    expect(text.stdout).toContain(`6 rows no rule's filters select stay as they are`);
    expect(text.stdout).toContain(`retention sunset --execute --confirm ${planned.token}`);

    const executed = await runMain(['sunset', '--execute', '--confirm', planned.token, '--json', '--config', configFile, '--actor', 'dpo:lee']);
    expect(executed.stderr).toBe('');
    expect(executed.code).toBe(0);
    const receipt = JSON.parse(executed.stdout) as SunsetReceipt;
    expect(receipt.complete).toBe(true);

    const after = await holdings();
    // Exactly the planned items went; the held person's, the kept, the gap and what lies outside the filters stayed.
    expect(after.closedNotHeld).toBe(0);
    expect(after.closedHeld).toBe(before.closedHeld);
    expect(after.accountsOutside).toBe(before.accountsOutside);
    expect(after.ipNotHeld).toBe(0);
    expect(after.ipHeld).toBe(before.ipHeld);
    expect(after.logins).toBe(before.logins);
    expect(after.invoices).toBe(before.invoices);
    expect(after.tickets).toBe(before.tickets);
    expect(after.newsletter).toBe(before.newsletter);
    expect(after.sessionsNotHeld).toBe(0);
    expect(after.sessionsHeld).toBe(before.sessionsHeld);
    expect(after.otherKeys).toEqual(before.otherKeys);
    expect(after.otherKeys).toHaveLength(2);
    expect(after.photos).toEqual(['photos/alice/notes.txt', 'photos/held/d.jpg']);

    // The receipt's numbers are the plan's.
    for (const planned_ of planned.rules) {
      const line = receipt.rules.find((r) => r.id === planned_.id)!;
      if (planned_.ruleHold) expect(line).toMatchObject({ status: 'held', changed: 0 });
      else expect(line).toMatchObject({ status: 'done', changed: planned_.affected, held: planned_.held, leftAfter: 0 });
    }
    expect(receipt.totals).toEqual({ changed: 6 + 5 + 3 + 6, held: 3 + 3 + 2 + 1 });
    expect(receipt.entries.find((e) => e.fate === 'kept')!.keptBecause).toBe('tax law: invoices are kept ten years');
    expect(receipt.actor).toBe('dpo:lee');

    // The audit chain: started, batches, one entry per rule, finished with the receipt's digest.
    const entries = await sunsetEntries();
    expect(entries[0]!.entry).toMatchObject({ event: 'sunset-started', token: planned.token, sunsetId: receipt.sunsetId });
    const last = entries[entries.length - 1]!;
    expect(last.entry).toMatchObject({ event: 'sunset-finished', receiptDigest: receipt.digest, complete: true });
    expect(receipt.closing).toEqual({ seq: last.seq, hash: last.hash });
    expect(receiptDigest(receipt)).toBe(receipt.digest);
    const batches = entries.filter((e) => e.entry.event === 'sunset-batch');
    expect(batches.reduce((n, e) => n + Number(e.entry.rows), 0)).toBe(receipt.totals.changed);
    expect(entries.filter((e) => e.entry.event === 'sunset-rule').map((e) => e.entry.ruleId)).toEqual(planned.rules.map((r) => r.id));
    // No raw id of anyone in the sunset's entries.
    // (`"status":"held"` is a rule's status, not the held person's id.)
    expect(JSON.stringify(entries).replaceAll('"status":"held"', '')).not.toMatch(/alice|bob|:"held"/);
    const runtime = await env.runtime(parseConfig(yaml(), configFile, {}, STORE_KINDS));
    expect(await verifyAudit(runtime.state)).toMatchObject({ ok: true, head: receipt.closing.hash });

    // Afterwards the plan shows only what holds keep.
    const again = await plan();
    expect(again.rules.map((r) => [r.id, r.affected])).toEqual(planned.rules.map((r) => [r.id, 0]));
  });

  it('refuses a token from a plan the data has moved away from, touching nothing', async () => {
    const planned = await plan();
    // A row the delete rule selects, written after the plan.
    await env.sql(`INSERT INTO ${env.schema}.accounts (uid, status, closed_at) VALUES ('carol', 'closed', now())`);
    const before = await holdings();
    const outcome = await runMain(['sunset', '--execute', '--confirm', planned.token, '--config', configFile]);
    expect(outcome.code).toBe(3);
    expect(outcome.stderr).toMatch(/is not the token of the plan now.*Nothing was touched/);
    expect(await holdings()).toEqual(before);
    expect(await sunsetEntries()).toEqual([]);
    // The new plan's token works.
    const fresh = await plan();
    expect(fresh.token).not.toBe(planned.token);
    expect(fresh.rules.find((r) => r.id === 'accounts-closed')!.affected).toBe(planned.rules.find((r) => r.id === 'accounts-closed')!.affected + 1);
  });

  it('refuses a token once a hold is placed, even one that changes no count', async () => {
    const planned = await plan();
    const runtime = await env.runtime(parseConfig(yaml(), configFile, {}, STORE_KINDS));
    await addHold(runtime, { subject: 'nobody-has-data', reason: 'precaution', actor: 'legal:kim' });
    const before = await holdings();
    const outcome = await runMain(['sunset', '--execute', '--confirm', planned.token, '--config', configFile]);
    expect(outcome.code).toBe(3);
    expect(await holdings()).toEqual(before);
    expect(await sunsetEntries()).toEqual([]);
  });

  it('refuses --execute without --confirm, --plan with --execute, and a config without an inventory, touching nothing', async () => {
    const before = await holdings();
    const noToken = await runMain(['sunset', '--execute', '--config', configFile]);
    expect(noToken.code).toBe(2);
    expect(noToken.stderr).toMatch(/--execute needs --confirm TOKEN/);
    const both = await runMain(['sunset', '--plan', '--execute', '--confirm', 'x', '--config', configFile]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--plan and --execute are exclusive/);
    const neither = await runMain(['sunset', '--config', configFile]);
    expect(neither.code).toBe(2);
    const bare = files.write('bare.yaml', env.configYaml([{ id: 'newsletter-1y', table: 'newsletter', anchor: 'subscribed_at', retain: 'P1Y', action: 'delete' }]));
    const noInventory = await runMain(['sunset', '--plan', '--config', bare]);
    expect(noInventory.code).toBe(2);
    expect(noInventory.stderr).toMatch(/has no inventory/);
    expect(noInventory.stderr.split('\n')).toHaveLength(1);
    expect(await holdings()).toEqual(before);
    // The state schema was never even created: nothing ran.
    expect(await count(`SELECT count(*) AS n FROM pg_namespace WHERE nspname = $1`, [env.stateSchema])).toBe(0);
  });
});
