import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { extendRequestDeadline } from '../../src/executor/extend-request.js';
import { openRequest } from '../../src/executor/open-request.js';
import { processRequest } from '../../src/executor/process-request.js';
import { buildReceipt } from '../../src/people/receipt.js';
import { sealSubject } from '../../src/people/seal-subject.js';
import { subjectDigest } from '../../src/people/subject-digest.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { insertHold, lockHoldsExclusive, releaseHolds } from '../../src/state/holds.js';
import { withTransaction } from '../../src/stores/postgres/connect.js';
import { createTestEnv, TEST_AUDIT_KEY, type TestEnv } from '../helpers/test-env.js';

/** A subject id with LIKE and glob metacharacters, beside one it must not reach. */
const ALICE = 'alice%_*@example.com';
const OTHER = 'alice1@example.com';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
  const s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, email text NOT NULL UNIQUE, closed_at timestamptz);
    CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, user_email text NOT NULL REFERENCES ${s}.users (email), created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE ${s}.order_lines (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES ${s}.orders (id), user_email text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
    CREATE TABLE ${s}.tickets (id bigserial PRIMARY KEY, email text, body text, created_at timestamptz NOT NULL DEFAULT now());
  `);
  for (const email of [ALICE, OTHER]) {
    await env.sql(`INSERT INTO ${s}.users (email) VALUES ($1)`, [email]);
    for (let i = 0; i < 3; i++) {
      const [order] = await env.sql<{ id: string }>(`INSERT INTO ${s}.orders (user_email) VALUES ($1) RETURNING id`, [email]);
      await env.sql(`INSERT INTO ${s}.order_lines (order_id, user_email) SELECT $1, $2 FROM generate_series(1, 2)`, [order!.id, email]);
    }
    await env.sql(`INSERT INTO ${s}.tickets (email, body) VALUES ($1, 'my card number is 4111'), ($1, 'call me')`, [email]);
  }
});
afterEach(() => env.cleanup());

/** Rules listed parents first, as a careless config would: the erasure must reorder them. */
function config(extra: Record<string, unknown> = {}) {
  return env.config(
    [
      { id: 'users', table: 'users', key: 'id', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'email' },
      { id: 'orders', table: 'orders', key: 'id', anchor: 'created_at', retain: 'P5Y', action: 'delete', subject: 'user_email' },
      { id: 'order-lines', table: 'order_lines', key: 'id', anchor: 'created_at', retain: 'P5Y', action: 'delete', subject: 'user_email' },
      { id: 'tickets', table: 'tickets', key: 'id', anchor: 'created_at', retain: 'P2Y', action: 'anonymize', subject: 'email', anonymize: { body: 'redact' } },
    ],
    { requests: { due: 'P45D', extension: 'P45D' }, ...extra },
  );
}

async function counts(email: string) {
  const s = env.schema;
  const [row] = await env.sql<Record<string, string>>(
    `SELECT (SELECT count(*) FROM ${s}.users WHERE email = $1) AS users,
            (SELECT count(*) FROM ${s}.orders WHERE user_email = $1) AS orders,
            (SELECT count(*) FROM ${s}.order_lines WHERE user_email = $1) AS lines,
            (SELECT count(*) FROM ${s}.tickets WHERE email = $1 AND body <> '[redacted]') AS tickets`,
    [email],
  );
  return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]));
}

/** Every text the state schema holds, audit log included. */
async function stateText(): Promise<string> {
  const tables = await env.sql<{ t: string }>(`SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1`, [env.stateSchema]);
  const parts: string[] = [];
  for (const { t } of tables) parts.push(JSON.stringify(await env.sql(`SELECT * FROM "${env.stateSchema}"."${t}"`)));
  return parts.join('\n');
}

async function hold(runtime: Runtime, subject: string) {
  const key = Buffer.from(TEST_AUDIT_KEY);
  return withTransaction(runtime.state.db, async (tx) => {
    await lockHoldsExclusive(tx, runtime.state);
    return insertHold(tx, runtime.state, {
      subjectDigest: subjectDigest(key, subject),
      subjectSealed: sealSubject(key, subject),
      ruleId: null,
      reason: 'litigation',
      until: null,
      createdBy: 'test',
    });
  });
}

describe('erasure requests on PostgreSQL', () => {
  it('erases one person children first, anonymizes where the rule says so, verifies, and leaves the other person whole', async () => {
    const runtime = await env.runtime(config());
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
    expect(request.status).toBe('open');
    const progress = await processRequest(runtime, request.id, 'test');
    expect(progress.status).toBe('completed');

    expect(await counts(ALICE)).toEqual({ users: 0, orders: 0, lines: 0, tickets: 0 });
    expect(await counts(OTHER)).toEqual({ users: 1, orders: 3, lines: 6, tickets: 2 });
    // Anonymized, not deleted: the tickets stay, their bodies redacted.
    expect((await env.sql(`SELECT body FROM ${env.schema}.tickets WHERE email = $1`, [ALICE])).map((r) => r.body)).toEqual(['[redacted]', '[redacted]']);

    const receipt = (await buildReceipt(runtime.state, request.id))!;
    expect(receipt.status).toBe('completed');
    expect(receipt.subject).toBe(subjectDigest(Buffer.from(TEST_AUDIT_KEY), ALICE));
    const byRule = Object.fromEntries(receipt.rules.map((r) => [r.rule, r]));
    expect(byRule['order-lines']!.rows).toBe(6);
    expect(byRule.orders!.rows).toBe(3);
    expect(byRule.users!.rows).toBe(1);
    expect(byRule.tickets!.rows).toBe(2);
    expect(byRule.tickets!.action).toBe('anonymize');
    // Children first, from the catalog: lines, then orders, then users.
    const seqOf = (rule: string) => byRule[rule]!.entries[0]!.seq;
    expect(seqOf('order-lines')).toBeLessThan(seqOf('orders'));
    expect(seqOf('orders')).toBeLessThan(seqOf('users'));
    expect(receipt.entries.map((e) => e.event)).toEqual(['request-opened', 'erased', 'erased', 'erased', 'erased', 'request-completed']);
    // The receipt's hashes are the chain's, and the chain verifies.
    const verified = await verifyAudit(runtime.state);
    expect(verified.ok).toBe(true);
    const chain = await env.sql<{ seq: string; hash: string }>(`SELECT seq, hash FROM "${env.stateSchema}".audit_log`);
    for (const e of receipt.entries) expect(chain.find((c) => Number(c.seq) === e.seq)?.hash).toBe(e.hash);

    // The person's id is nowhere in the state database: digest only, the sealed copy gone.
    const text = await stateText();
    expect(text).not.toContain('alice');
    const [row] = await env.sql(`SELECT subject_sealed FROM "${env.stateSchema}".requests WHERE id = $1`, [request.id]);
    expect(row!.subject_sealed).toBeNull();
  });

  it('a held subject waits, changes nothing, shows why, and completes once the hold is released', async () => {
    const runtime = await env.runtime(config());
    const held = await hold(runtime, ALICE);
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
    const first = await processRequest(runtime, request.id, 'test');
    expect(first.status).toBe('waiting');
    expect(first.status === 'waiting' && first.reason).toMatch(/legal hold/);
    expect(await counts(ALICE)).toEqual({ users: 1, orders: 3, lines: 6, tickets: 2 });
    const receipt = (await buildReceipt(runtime.state, request.id))!;
    expect(receipt.status).toBe('waiting');
    expect(receipt.waitingReason).toMatch(/legal hold/);

    await withTransaction(runtime.state.db, (tx) => releaseHolds(tx, runtime.state, { id: held.id }, 'test', 'case closed'));
    const second = await processRequest(runtime, request.id, 'test');
    expect(second.status).toBe('completed');
    expect(await counts(ALICE)).toEqual({ users: 0, orders: 0, lines: 0, tickets: 0 });
  });

  it('a second request for a person with one open is refused; a request is extended once and only once', async () => {
    const runtime = await env.runtime(config());
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test', receivedAt: new Date('2026-11-01T10:00:00Z') });
    expect(request.dueAt.toISOString()).toBe('2026-12-16T23:59:59.999Z');
    await expect(openRequest(runtime, { subject: ALICE, actor: 'test' })).rejects.toThrow(/already open/);
    const extended = await extendRequestDeadline(runtime, request.id, 'complex account', 'test');
    expect(extended.dueAt.toISOString()).toBe('2027-01-30T23:59:59.999Z');
    expect(extended.originalDueAt.toISOString()).toBe('2026-12-16T23:59:59.999Z');
    await expect(extendRequestDeadline(runtime, request.id, 'again', 'test')).rejects.toThrow(/extended once/);
    const audit = await env.sql<{ entry: { event: string; dueAt?: string } }>(`SELECT entry FROM "${env.stateSchema}".audit_log ORDER BY seq`);
    expect(audit.filter((a) => a.entry.event === 'request-extended').map((a) => a.entry.dueAt)).toEqual(['2027-01-30T23:59:59.999Z']);
  });

  it('a request another process is working on is left to it: the second is told busy and changes nothing', async () => {
    const runtime = await env.runtime(config());
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
    // Another process holds the request's lock, as processRequest takes it.
    const other = await env.pool.connect();
    try {
      await other.query('SELECT pg_advisory_lock(hashtext($1))', [`retention-request:${env.stateSchema}:${request.id}`]);
      expect(await processRequest(runtime, request.id, 'b')).toEqual({ status: 'busy' });
      expect(await counts(ALICE)).toEqual({ users: 1, orders: 3, lines: 6, tickets: 2 });
      await other.query('SELECT pg_advisory_unlock(hashtext($1))', [`retention-request:${env.stateSchema}:${request.id}`]);
    } finally {
      other.release();
    }
    expect((await processRequest(runtime, request.id, 'a')).status).toBe('completed');
    const receipt = (await buildReceipt(runtime.state, request.id))!;
    expect(receipt.rules.reduce((n, r) => n + r.rows, 0)).toBe(12);
  });
});
