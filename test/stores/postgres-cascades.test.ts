import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from '../cli/cli-harness.js';

/**
 * Rows removed by `ON DELETE CASCADE` (and rewritten by `ON DELETE SET NULL`) against the
 * real database: refused unless the rule says `cascades: allow`; then counted by `plan`,
 * by the blast-radius limits and by the audit, per table, and equal to what a run removed.
 *
 * users <- login_events (CASCADE), users <- orders (CASCADE) <- order_items (CASCADE),
 * users <- order_items.buyer_id (CASCADE: a second path into order_items, so a row reached
 * both ways must be counted once), users <- notes (SET NULL).
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const EXPIRED_USERS = 300;
const USERS = 400;
const TABLES = ['login_events', 'orders', 'order_items'] as const;

async function shop(): Promise<void> {
  const s = env.schema;
  await env.sql(`CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL)`);
  await env.sql(`CREATE TABLE ${s}.login_events (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES ${s}.users ON DELETE CASCADE)`);
  await env.sql(`CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, user_id bigint NOT NULL REFERENCES ${s}.users ON DELETE CASCADE)`);
  await env.sql(`CREATE TABLE ${s}.order_items (id bigserial PRIMARY KEY,
                   order_id bigint NOT NULL REFERENCES ${s}.orders ON DELETE CASCADE,
                   buyer_id bigint REFERENCES ${s}.users ON DELETE CASCADE)`);
  await env.sql(`CREATE TABLE ${s}.notes (id bigserial PRIMARY KEY, author_id bigint REFERENCES ${s}.users ON DELETE SET NULL)`);
  await env.sql(
    `INSERT INTO ${s}.users (created_at)
     SELECT CASE WHEN i <= $1 THEN now() - interval '400 days' ELSE now() - interval '1 day' END FROM generate_series(1, $2) i`,
    [EXPIRED_USERS, USERS],
  );
  await env.sql(`INSERT INTO ${s}.login_events (user_id) SELECT u.id FROM ${s}.users u, generate_series(0, u.id % 3)`);
  await env.sql(`INSERT INTO ${s}.orders (user_id) SELECT id FROM ${s}.users WHERE id % 2 = 0 UNION ALL SELECT id FROM ${s}.users WHERE id % 5 = 0`);
  // Each order: one item bought by its own user, one by a user 150 ids on (expired and
  // fresh users cross), so some items go only through orders, some only through buyer_id.
  await env.sql(
    `INSERT INTO ${s}.order_items (order_id, buyer_id)
     SELECT o.id, o.user_id FROM ${s}.orders o
     UNION ALL SELECT o.id, (o.user_id + 150) % $1 + 1 FROM ${s}.orders o`,
    [USERS],
  );
  await env.sql(`INSERT INTO ${s}.notes (author_id) SELECT id FROM ${s}.users WHERE id % 4 = 0 UNION ALL SELECT NULL FROM generate_series(1, 10)`);
}

/** Rows per table, and notes still pointing at a user. */
async function census(): Promise<Record<string, number>> {
  const s = env.schema;
  const [row] = await env.sql<Record<string, string>>(
    `SELECT (SELECT count(*) FROM ${s}.users) AS users, (SELECT count(*) FROM ${s}.login_events) AS login_events,
            (SELECT count(*) FROM ${s}.orders) AS orders, (SELECT count(*) FROM ${s}.order_items) AS order_items,
            (SELECT count(*) FROM ${s}.notes WHERE author_id IS NOT NULL) AS notes_with_author`,
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

/** What a run changed, keyed as the store reports it. */
function changes(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const table of TABLES) out[`${env.schema}.${table}`] = before[table]! - after[table]!;
  out[`${env.schema}.notes (set null)`] = before.notes_with_author! - after.notes_with_author!;
  return out;
}

const rule = (extra: Record<string, unknown> = {}) => ({
  id: 'users',
  table: 'users',
  anchor: 'created_at',
  retain: 'P1Y',
  action: 'delete',
  batchSize: 100,
  ...extra,
});

const config = (extra: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => files.write('retention.yaml', env.configYaml([rule(extra)], top));

async function batchEntries(): Promise<{ rows: number; dryRun: boolean; cascaded?: Record<string, number> }[]> {
  const rows = await env.sql<{ entry: { rows: number; dryRun: boolean; cascaded?: Record<string, number> } }>(
    `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' ORDER BY seq`,
  );
  return rows.map((r) => r.entry);
}

function sumCascaded(entries: { cascaded?: Record<string, number> }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of entries) for (const [table, n] of Object.entries(entry.cascaded ?? {})) out[table] = (out[table] ?? 0) + n;
  return out;
}

describe('a delete rule whose rows cascade into other tables', () => {
  it('is refused at check without cascades: allow, naming every table and constraint reached', async () => {
    await shop();
    const outcome = await runMain(['check', '--config', config()]);
    expect(outcome.code).toBe(2);
    const s = env.schema;
    expect(outcome.stderr).toContain('rules[0].table');
    for (const reached of [
      `${s}.login_events (login_events_user_id_fkey: ON DELETE CASCADE)`,
      `${s}.orders (orders_user_id_fkey: ON DELETE CASCADE)`,
      `${s}.order_items via ${s}.orders (order_items_order_id_fkey: ON DELETE CASCADE)`,
      `${s}.order_items (order_items_buyer_id_fkey: ON DELETE CASCADE)`,
      `${s}.notes (notes_author_id_fkey: ON DELETE SET NULL)`,
    ]) {
      expect(outcome.stderr).toContain(reached);
    }
    expect(outcome.stderr).toContain('cascades: allow');
    expect(outcome.stderr).not.toMatch(/\n\s+at /);
  });

  it('is refused by run without cascades: allow, and no row of any table is touched', async () => {
    await shop();
    const before = await census();
    const outcome = await runMain(['run', '--rule', 'users', '--config', config()]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain(`${env.schema}.login_events`);
    expect(await census()).toEqual(before);
  });

  it('plan shows per table the rows the run then removed, and each batch audits what it removed', async () => {
    await shop();
    const file = config({ cascades: 'allow' });
    const before = await census();
    const plan = await runMain(['plan', '--json', '--config', file]);
    expect(plan.code, plan.stderr).toBe(0);
    const planned = JSON.parse(plan.stdout).rules[0];
    expect(planned.affected).toBe(EXPIRED_USERS);

    const text = await runMain(['plan', '--config', file]);
    expect(text.stdout).toContain(`users cascades into: ${env.schema}.login_events (`);

    const run = await runMain(['run', '--rule', 'users', '--json', '--config', file]);
    expect(run.code, run.stderr).toBe(0);
    const after = await census();
    expect(before.users! - after.users!).toBe(EXPIRED_USERS);
    const removed = changes(before, after);
    // Every table lost rows, and the plan said exactly how many, per table.
    for (const n of Object.values(removed)) expect(n).toBeGreaterThan(0);
    expect(planned.cascaded).toEqual(removed);

    const entries = await batchEntries();
    expect(entries.length).toBeGreaterThanOrEqual(3);
    expect(entries.reduce((sum, e) => sum + e.rows, 0)).toBe(EXPIRED_USERS);
    expect(sumCascaded(entries)).toEqual(removed);
    expect((await runMain(['audit', 'verify', '--config', file])).code).toBe(0);
  });

  it('a dry run reports per batch what would cascade and removes nothing', async () => {
    await shop();
    const file = config({ cascades: 'allow' });
    const before = await census();
    const planned = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout).rules[0];
    const dry = await runMain(['run', '--rule', 'users', '--dry-run', '--config', file]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(await census()).toEqual(before);
    const entries = await batchEntries();
    expect(entries.every((e) => e.dryRun)).toBe(true);
    expect(sumCascaded(entries)).toEqual(planned.cascaded);
  });

  it('the row limit counts cascaded rows: parents under it, parents plus cascades over it, blocks and touches nothing', async () => {
    await shop();
    const limit = EXPIRED_USERS + 50;
    const file = config({ cascades: 'allow', limits: { maxRowsPerRun: limit, maxFraction: 1 } });
    const before = await census();
    const blocked = await runMain(['run', '--rule', 'users', '--config', file]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain(`more than maxRowsPerRun ${limit}`);
    expect(await census()).toEqual(before);

    // plan says the same, with the same token, and the token lets the run through.
    const plan = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout).rules[0];
    const total = plan.affected + Object.values(plan.cascaded as Record<string, number>).reduce((a, b) => a + b, 0);
    const token = /--confirm (\S+)/.exec(blocked.stderr)![1]!;
    expect(plan.blocked.confirm).toBe(token);
    expect(token.startsWith(`${total}.`)).toBe(true);
    const confirmed = await runMain(['run', '--rule', 'users', '--confirm', token, '--config', file]);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(sumCascaded(await batchEntries())).toEqual(changes(before, await census()));
  });

  it('the fraction limit counts cascaded rows against the sizes of the tables they are in', async () => {
    await shop();
    // 20 of 400 users (5%) is under 20%, but their login events, orders and items are not
    // all: add a big history to those users so the cascade is most of the rows.
    const s = env.schema;
    await env.sql(`UPDATE ${s}.users SET created_at = now() WHERE id > 20`);
    await env.sql(`INSERT INTO ${s}.login_events (user_id) SELECT (i % 20) + 1 FROM generate_series(1, 3000) i`);
    const file = config({ cascades: 'allow', limits: { maxFraction: 0.2 } });
    const before = await census();
    const blocked = await runMain(['run', '--rule', 'users', '--config', file]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain('more than maxFraction 0.2');
    expect(await census()).toEqual(before);
  });

  it('is refused even with cascades: allow when a cascade loops back into a table already reached', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, created_at timestamptz NOT NULL, invited_by bigint REFERENCES ${s}.users ON DELETE CASCADE)`);
    await env.sql(`INSERT INTO ${s}.users (created_at, invited_by) VALUES (now() - interval '400 days', NULL), (now(), 1)`);
    const outcome = await runMain(['check', '--config', config({ cascades: 'allow' })]);
    expect(outcome.code).toBe(2);
    expect(outcome.stderr).toContain('rules[0].table');
    expect(outcome.stderr).toContain('users_invited_by_fkey');
    expect((await runMain(['run', '--rule', 'users', '--config', config({ cascades: 'allow' })])).code).toBe(2);
    expect((await env.sql(`SELECT id FROM ${s}.users`)).length).toBe(2);
  });
});

describe('cascades in the config', () => {
  it('is a problem on an anonymize rule and on a redis rule', () => {
    const anonymize = { ...rule({ cascades: 'allow' }), action: 'anonymize', anonymize: { created_at: 'null' } };
    expect(() => env.config([anonymize])).toThrow(/rules\[0\]\.cascades: cascades is for rules that delete rows/);
    const redis = { id: 'sessions', store: 'cache', keys: 'session:*', anchor: 'at', anchorUnit: 'ms', retain: 'P1D', action: 'delete', cascades: 'allow' };
    expect(() => env.config([redis], { stores: { cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' } } })).toThrow(/rules\[0\]\.cascades: cascades is for rules that delete rows/);
  });

  it('takes only allow', () => {
    expect(() => env.config([rule({ cascades: 'yes' })])).toThrow(/rules\[0\]\.cascades: "yes" is not a cascades setting/);
  });
});
