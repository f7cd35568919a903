import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { appendAudit } from '../../src/audit/append-audit.js';
import type { AuditEntry } from '../../src/audit/audit-entry.js';
import { derivedKey } from '../../src/audit/audit-key.js';
import { GENESIS_HASH, hashEntry, macEntry } from '../../src/audit/hash-entry.js';
import { verifyAudit, type VerifyResult } from '../../src/audit/verify-audit.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { withTransaction } from '../../src/stores/postgres/connect.js';

let env: TestEnv;
let runtime: Runtime;
const ENTRIES = 5;

beforeEach(async () => {
  env = await createTestEnv();
  runtime = await env.runtime(env.config([]));
  for (let batch = 0; batch < ENTRIES; batch++) {
    await withTransaction(runtime.state.db, (client) => appendAudit(client, runtime.state, entry(batch)));
  }
});
afterEach(async () => {
  await env.cleanup();
});

function entry(batch: number): AuditEntry {
  return {
    event: 'batch',
    ruleId: 'logs',
    ruleSource: 'privacy policy 4.2',
    configHash: 'c0ffee',
    sweepId: 'sweep-1',
    store: 'app',
    table: 'public.logs',
    action: 'delete',
    dryRun: false,
    now: '2026-01-01T00:00:00.000Z',
    ranges: [{ from: null, to: '2025-07-01T00:00:00.000Z' }],
    rows: 100 + batch,
    batch,
    actor: 'test',
    trigger: 'manual',
  };
}

const log = () => `${env.stateSchema}.audit_log`;

/**
 * Tampers as the table's owner would: switches the append-only triggers off first. Each
 * statement runs in one transaction with the switch, so the triggers are back on after.
 */
async function tamper(...statements: (string | [string, unknown[]])[]): Promise<void> {
  const client = await env.pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`ALTER TABLE ${log()} DISABLE TRIGGER USER`);
    for (const statement of statements) {
      const [text, values] = typeof statement === 'string' ? [statement, []] : statement;
      await client.query(text, values);
    }
    await client.query(`ALTER TABLE ${log()} ENABLE TRIGGER USER`);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

const verify = (): Promise<VerifyResult> => verifyAudit(runtime.state);

/**
 * Rewrites the chain from entry `from` on as someone with write access to the database
 * would: `edit` entry `from`, hash it and the `count` - 1 after it with `rehash` (keyed
 * flag `keyed`), re-linking each to the one before. Entries after those are re-chained
 * under the real key, as the product would have appended them.
 */
async function rechain(
  from: number,
  edit: (entry: AuditEntry) => AuditEntry,
  rehash: (prev: string, seq: number, at: string, entry: unknown) => string,
  keyed: boolean,
  count = ENTRIES,
): Promise<void> {
  const rows = await env.sql<{ seq: string; at: Date; entry: AuditEntry; hash: string }>(`SELECT seq, at, entry, hash FROM ${log()} ORDER BY seq`);
  const realKey = derivedKey(runtime.auditKey, 'chain');
  let prev = from === 1 ? GENESIS_HASH : rows[from - 2]!.hash;
  const statements: [string, unknown[]][] = [];
  for (const row of rows.slice(from - 1)) {
    const seq = Number(row.seq);
    const rewritten = seq < from + count;
    const entry = seq === from ? edit(row.entry) : row.entry;
    const at = row.at.toISOString();
    const hash = rewritten ? rehash(prev, seq, at, entry) : macEntry(realKey, prev, seq, at, entry);
    statements.push([`UPDATE ${log()} SET entry = $1, prev_hash = $2, hash = $3, keyed = $4 WHERE seq = $5`, [JSON.stringify(entry), prev, hash, rewritten ? keyed : true, seq]]);
    prev = hash;
  }
  await tamper(...statements);
}

describe('the audit chain', () => {
  it('verifies when nobody touched it', async () => {
    const [last] = await env.sql<{ hash: string }>(`SELECT hash FROM ${log()} WHERE seq = $1`, [ENTRIES]);
    expect(await verify()).toEqual({ ok: true, entries: ENTRIES, head: last!.hash, legacy: 0, checkpoints: 0 });
  });

  it('refuses a plain UPDATE, DELETE or TRUNCATE', async () => {
    await expect(env.sql(`UPDATE ${log()} SET entry = jsonb_set(entry, '{rows}', '0') WHERE seq = 2`)).rejects.toThrow(/append-only/);
    await expect(env.sql(`DELETE FROM ${log()} WHERE seq = 2`)).rejects.toThrow(/append-only/);
    await expect(env.sql(`TRUNCATE ${log()}`)).rejects.toThrow(/append-only/);
    const [row] = await env.sql<{ n: string; rows: string }>(`SELECT count(*) AS n, sum((entry->>'rows')::int) AS rows FROM ${log()}`);
    expect(row).toEqual({ n: String(ENTRIES), rows: String(100 + 101 + 102 + 103 + 104) });
    expect((await verify()).ok).toBe(true);
  });

  it('detects an edited entry', async () => {
    await tamper(`UPDATE ${log()} SET entry = jsonb_set(entry, '{rows}', '0') WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, seq: 3, entries: 2, problem: expect.stringMatching(/altered/) });
  });

  it('detects an edited timestamp', async () => {
    await tamper(`UPDATE ${log()} SET at = at - interval '1 day' WHERE seq = 3`);
    expect(await verify()).toMatchObject({ ok: false, seq: 3, problem: expect.stringMatching(/altered/) });
  });

  it('detects an edited entry whose own hash was recomputed to match', async () => {
    const [row] = await env.sql<{ at: Date; entry: AuditEntry; prev_hash: string }>(`SELECT at, entry, prev_hash FROM ${log()} WHERE seq = 3`);
    const edited = { ...row!.entry, rows: 0 };
    const hash = hashEntry(row!.prev_hash, 3, row!.at.toISOString(), edited);
    await tamper([`UPDATE ${log()} SET entry = $1, hash = $2 WHERE seq = 3`, [JSON.stringify(edited), hash]]);
    // Without the key its hash cannot be made to match.
    expect(await verify()).toMatchObject({ ok: false, seq: 3, entries: 2, problem: expect.stringMatching(/altered/) });
  });

  it.each([
    ['as unkeyed sha256, keeping the keyed flag', (prev: string, seq: number, at: string, e: unknown) => hashEntry(prev, seq, at, e), true, /altered/],
    ['as unkeyed sha256 entries', (prev: string, seq: number, at: string, e: unknown) => hashEntry(prev, seq, at, e), false, /unkeyed but follows keyed/],
    ['under another key', (prev: string, seq: number, at: string, e: unknown) => macEntry(derivedKey(Buffer.from('another-key-of-at-least-32-bytes-0123456789'), 'chain'), prev, seq, at, e), true, /altered/],
  ])('detects an edited entry with the chain after it recomputed %s', async (_how, rehash, keyed, problem) => {
    await rechain(3, (e) => ({ ...e, rows: 0 }), rehash, keyed);
    expect(await verify()).toMatchObject({ ok: false, seq: 3, entries: 2, problem: expect.stringMatching(problem) });
  });

  it('accepts unkeyed legacy entries before the keyed ones, and reports them', async () => {
    // A log begun before the chain was keyed: its first entries are plain sha256.
    await rechain(1, (e) => e, (prev, seq, at, e) => hashEntry(prev, seq, at, e), false, 2);
    const [head] = await env.sql<{ hash: string }>(`SELECT hash FROM ${log()} WHERE seq = $1`, [ENTRIES]);
    expect(await verify()).toEqual({ ok: true, entries: ENTRIES, head: head!.hash, legacy: 2, checkpoints: 0 });
  });

  it('detects a lone unkeyed entry amid keyed ones', async () => {
    await rechain(1, (e) => e, (prev, seq, at, e) => hashEntry(prev, seq, at, e), false, 2);
    await rechain(4, (e) => e, (prev, seq, at, e) => hashEntry(prev, seq, at, e), false, 1);
    expect(await verify()).toMatchObject({ ok: false, seq: 4, problem: expect.stringMatching(/unkeyed but follows keyed/) });
  });

  it.each([1, 3])('detects that entry %i was removed', async (seq) => {
    await tamper(`DELETE FROM ${log()} WHERE seq = ${seq}`);
    expect(await verify()).toMatchObject({ ok: false, seq: seq + 1, entries: seq - 1, problem: expect.stringMatching(/missing/) });
  });

  it('detects a removed entry even when the later ones were renumbered to close the gap', async () => {
    await tamper(
      `DELETE FROM ${log()} WHERE seq = 3`,
      // Via negatives: seq is unique, checked row by row.
      `UPDATE ${log()} SET seq = -seq WHERE seq > 3`,
      `UPDATE ${log()} SET seq = -seq - 1 WHERE seq < 0`,
    );
    expect(await env.sql(`SELECT seq FROM ${log()} ORDER BY seq`)).toEqual([1, 2, 3, 4].map((seq) => ({ seq: String(seq) })));
    expect(await verify()).toMatchObject({ ok: false, seq: 3, problem: expect.stringMatching(/does not follow/) });
  });

  it('detects two entries swapped in order', async () => {
    await tamper(
      `UPDATE ${log()} SET seq = -2 WHERE seq = 2`,
      `UPDATE ${log()} SET seq = 2 WHERE seq = 3`,
      `UPDATE ${log()} SET seq = 3 WHERE seq = -2`,
    );
    const reordered = await env.sql<{ batch: string }>(`SELECT entry->>'batch' AS batch FROM ${log()} ORDER BY seq`);
    expect(reordered.map((r) => r.batch)).toEqual(['0', '2', '1', '3', '4']);
    expect(await verify()).toMatchObject({ ok: false, seq: 2, entries: 1 });
  });

  it('detects two entries whose contents were swapped', async () => {
    await tamper(`UPDATE ${log()} a SET entry = b.entry FROM ${log()} b WHERE (a.seq, b.seq) IN ((2, 3), (3, 2))`);
    const swapped = await env.sql<{ batch: string }>(`SELECT entry->>'batch' AS batch FROM ${log()} ORDER BY seq`);
    expect(swapped.map((r) => r.batch)).toEqual(['0', '2', '1', '3', '4']);
    expect(await verify()).toMatchObject({ ok: false, seq: 2, entries: 1, problem: expect.stringMatching(/altered/) });
  });
});
