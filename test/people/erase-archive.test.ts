import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { openRequest } from '../../src/executor/open-request.js';
import { processRequest } from '../../src/executor/process-request.js';
import { erasureRules } from '../../src/executor/request-rules.js';
import { buildReceipt } from '../../src/people/receipt.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * An erasure request meets an archive rule: the person's rows are deleted from the rule's
 * table, never moved to the archive (archiving keeps them), and the archive table's own
 * rule, when it names the person too, erases what was archived before: both tables, the
 * archive rule's first.
 */

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

let env: TestEnv;
let s: string;
beforeEach(async () => {
  env = await createTestEnv();
  s = env.schema;
  await env.sql(`
    CREATE TABLE ${s}.conversations (id bigserial PRIMARY KEY, email text, body text, ended_at timestamptz);
    CREATE TABLE ${s}.conversations_archive (LIKE ${s}.conversations INCLUDING CONSTRAINTS INCLUDING INDEXES, archived_at timestamptz NOT NULL DEFAULT now());
    CREATE INDEX ON ${s}.conversations (email);
    CREATE INDEX ON ${s}.conversations_archive (email);
  `);
  for (const email of [ALICE, BOB]) {
    // Expired (an archive sweep would move them), young, and already archived.
    await env.sql(`INSERT INTO ${s}.conversations (email, body, ended_at) SELECT $1, 'old ' || g, now() - interval '400 days' FROM generate_series(1, 2) g`, [email]);
    await env.sql(`INSERT INTO ${s}.conversations (email, body, ended_at) VALUES ($1, 'young', now())`, [email]);
    await env.sql(`INSERT INTO ${s}.conversations_archive (id, email, body, ended_at) SELECT 1000 + g + (CASE WHEN $1 = 'bob@example.com' THEN 10 ELSE 0 END), $1, 'archived ' || g, now() - interval '800 days' FROM generate_series(1, 2) g`, [email]);
  }
});
afterEach(() => env.cleanup());

/** The archive table's rule first, as a config may list it: the erasure must reorder them. */
function config(options: { archiveSubject: boolean }) {
  return env.config(
    [
      { id: 'archived-2y', table: 'conversations_archive', anchor: 'archived_at', retain: 'P2Y', action: 'delete', ...(options.archiveSubject ? { subject: 'email' } : {}) },
      { id: 'conversations', table: 'conversations', anchor: 'ended_at', retain: 'P1Y', action: 'archive', archiveTable: `${s}.conversations_archive`, subject: 'email' },
    ],
    { requests: { due: 'P45D', extension: 'P45D' } },
  );
}

async function counts(email: string) {
  const [row] = await env.sql<{ live: number; archived: number }>(
    `SELECT (SELECT count(*)::int FROM ${s}.conversations WHERE email = $1) AS live, (SELECT count(*)::int FROM ${s}.conversations_archive WHERE email = $1) AS archived`,
    [email],
  );
  return row;
}

describe('an erasure request and an archive rule', () => {
  it('deletes the person\'s rows from the rule\'s table instead of archiving them', async () => {
    // No rule of the archive table names the person: whatever the archive rule moved there
    // for her would stay. So it must move nothing.
    const runtime = await env.runtime(config({ archiveSubject: false }));
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
    expect((await processRequest(runtime, request.id, 'test')).status).toBe('completed');
    // Her three rows gone from the table, none added to the archive (the two there before stay: no rule reaches them).
    expect(await counts(ALICE)).toEqual({ live: 0, archived: 2 });
    expect(await counts(BOB)).toEqual({ live: 3, archived: 2 });
    const receipt = (await buildReceipt(runtime.state, request.id))!;
    const line = receipt.rules.find((r) => r.rule === 'conversations')!;
    expect(line).toMatchObject({ action: 'delete', rows: 3 });
    const erased = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'erased'`);
    expect(erased.map((e) => [e.entry.ruleId, e.entry.action, e.entry.rows])).toEqual([['conversations', 'delete', 3]]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });

  it('erases both the table and its archive when both rules name the person, the archive rule first', async () => {
    const runtime = await env.runtime(config({ archiveSubject: true }));
    // Children-first order from the catalog, plus: a rule before the rule of its archive
    // table, so rows a sweep moves there mid-request are still found there.
    expect((await erasureRules(runtime)).map((r) => r.id)).toEqual(['conversations', 'archived-2y']);
    const request = await openRequest(runtime, { subject: ALICE, actor: 'test' });
    expect((await processRequest(runtime, request.id, 'test')).status).toBe('completed');
    expect(await counts(ALICE)).toEqual({ live: 0, archived: 0 });
    expect(await counts(BOB)).toEqual({ live: 3, archived: 2 });
    const erased = await env.sql<{ entry: Record<string, unknown> }>(`SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'erased' ORDER BY seq`);
    expect(erased.map((e) => [e.entry.ruleId, e.entry.action, e.entry.rows])).toEqual([
      ['conversations', 'delete', 3],
      ['archived-2y', 'delete', 2],
    ]);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
  });
});
