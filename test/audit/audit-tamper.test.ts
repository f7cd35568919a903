import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { GENESIS_HASH, hashEntry } from '../../src/audit/hash-entry.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import type { Config } from '../../src/policy/config.js';

/**
 * Tampering by someone who can write to the state database but does not hold the audit
 * key: rewriting the chain, cutting its end, and cutting it together with the rows that
 * would betray the cut. Sweeps are real (`retention run` in-process).
 */

let env: TestEnv;
let files: ReturnType<typeof tempDir>;
let config: Config;
let configFile: string;

const rules = [
  { id: 'logs-a', table: 'logs_a', anchor: 'at', retain: 'P1D', action: 'delete', batchSize: 100 },
  { id: 'logs-b', table: 'logs_b', anchor: 'at', retain: 'P1D', action: 'delete', batchSize: 100 },
];

beforeEach(async () => {
  env = await createTestEnv();
  files = tempDir();
  for (const table of ['logs_a', 'logs_b']) {
    await env.sql(`CREATE TABLE ${env.schema}.${table} (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.${table} (at) SELECT now() - interval '30 days' FROM generate_series(1, 250)`);
  }
  config = env.config(rules);
  configFile = files.write('retention.yaml', env.configYaml(rules));
});
afterEach(async () => {
  files.remove();
  await env.cleanup();
});

const log = () => `${env.stateSchema}.audit_log`;

/** As the tables' owner: with the append-only triggers off, in one transaction. */
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

const verify = async () => verifyAudit((await env.runtime(config)).state);

describe('tampering the audit log without the audit key', () => {
  it('detects an entry edited and every hash after it recomputed', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    // Batch 1 claims it deleted nothing; the chain is then recomputed from there on, as
    // anyone can who knows how it is hashed.
    const rows = await env.sql<{ seq: string; at: Date; entry: Record<string, unknown> }>(`SELECT seq, at, entry FROM ${log()} ORDER BY seq`);
    expect(rows.length).toBe(4);
    const statements: [string, unknown[]][] = [];
    let prev = GENESIS_HASH;
    for (const row of rows) {
      const entry = row.entry.batch === 1 ? { ...row.entry, rows: 0 } : row.entry;
      const hash = hashEntry(prev, Number(row.seq), row.at.toISOString(), entry);
      statements.push([`UPDATE ${log()} SET entry = $1, prev_hash = $2, hash = $3 WHERE seq = $4`, [JSON.stringify(entry), prev, hash, Number(row.seq)]]);
      prev = hash;
    }
    await tamper(...statements);
    expect(await verify()).toMatchObject({ ok: false, seq: 1, problem: expect.stringMatching(/altered/) });
  });

  it('detects that only the final sweep-finished entry was removed', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    expect((await verify()).ok).toBe(true);
    await tamper(`DELETE FROM ${log()} WHERE seq = (SELECT max(seq) FROM ${log()}) AND entry->>'event' = 'sweep-finished'`);
    expect(await env.sql(`SELECT 1 FROM ${log()} WHERE entry->>'event' = 'sweep-finished'`)).toEqual([]);
    expect(await verify()).toMatchObject({ ok: false, problem: expect.stringMatching(/recorded as done but the log has no sweep-finished entry/) });
  });

  it('detects, against an external checkpoint, a sweep cut with its checkpoint rows', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    await env.run(config, { ruleIds: ['logs-b'] });
    const checkpoints = files.write('checkpoints.jsonl', '');
    const taken = await runMain(['audit', 'checkpoint', '--config', configFile, '--out', checkpoints]);
    expect(taken).toMatchObject({ code: 0, stdout: expect.stringMatching(/checkpoint of entry 8 /) });
    const line = JSON.parse(readFileSync(checkpoints, 'utf8').trim()) as { seq: number; hash: string; sig: string };
    expect(line).toMatchObject({ seq: 8, hash: expect.stringMatching(/^[0-9a-f]{64}$/), sig: expect.stringMatching(/^[0-9a-f]{64}$/) });

    // Everything that says sweep b ran: its entries, its batch checkpoints, its sweep row.
    const [b] = await env.sql<{ id: string }>(`SELECT id FROM ${env.stateSchema}.sweeps WHERE rule_id = 'logs-b'`);
    await tamper(
      `DELETE FROM ${log()} WHERE entry->>'sweepId' = '${b!.id}'`,
      `DELETE FROM ${env.stateSchema}.batches WHERE sweep_id = '${b!.id}'`,
      `DELETE FROM ${env.stateSchema}.sweeps WHERE id = '${b!.id}'`,
    );
    // The database alone cannot tell (documented): nothing in it remembers sweep b.
    expect((await runMain(['audit', 'verify', '--config', configFile])).code).toBe(0);
    const verified = await runMain(['audit', 'verify', '--config', configFile, '--against', checkpoints]);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/entries 5-8 were cut: the checkpoint taken at .* recorded entry 8/);
  });

  it('refuses a checkpoint line that was edited', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    const checkpoints = files.write('checkpoints.jsonl', '');
    expect((await runMain(['audit', 'checkpoint', '--config', configFile, '--out', checkpoints])).code).toBe(0);
    // Moving the checkpoint back to entry 2 would hide a cut of entries 3 and 4.
    const line = JSON.parse(readFileSync(checkpoints, 'utf8').trim()) as { seq: number; hash: string };
    const [second] = await env.sql<{ hash: string }>(`SELECT hash FROM ${log()} WHERE seq = 2`);
    writeFileSync(checkpoints, `${JSON.stringify({ ...line, seq: 2, hash: second!.hash })}\n`);
    const verified = await runMain(['audit', 'verify', '--config', configFile, '--against', checkpoints]);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/line 1 has a signature that does not verify/);
  });

  it('signs no checkpoint of a broken log, and appends none to the file', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    await tamper(`UPDATE ${log()} SET entry = jsonb_set(entry, '{rows}', '0') WHERE seq = 2`);
    const checkpoints = files.write('checkpoints.jsonl', '');
    const taken = await runMain(['audit', 'checkpoint', '--config', configFile, '--out', checkpoints]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/audit log broken at entry 2/);
    expect(readFileSync(checkpoints, 'utf8')).toBe('');
  });

  it('prints a checkpoint that verifies, and against it catches a log rewritten as unkeyed legacy entries', async () => {
    await env.run(config, { ruleIds: ['logs-a'] });
    const printed = await runMain(['audit', 'checkpoint', '--config', configFile]);
    expect(printed.code).toBe(0);
    const checkpoints = files.write('checkpoints.jsonl', `${printed.stdout.trim()}\n`);
    expect(await runMain(['audit', 'verify', '--config', configFile, '--against', checkpoints])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/checked against 1 checkpoint/),
    });

    // The whole log rewritten as if written before the chain was keyed: plain sha256.
    const rows = await env.sql<{ seq: string; at: Date; entry: Record<string, unknown> }>(`SELECT seq, at, entry FROM ${log()} ORDER BY seq`);
    const statements: [string, unknown[]][] = [];
    let prev = GENESIS_HASH;
    for (const row of rows) {
      const entry = row.entry.batch === 1 ? { ...row.entry, rows: 0 } : row.entry;
      const hash = hashEntry(prev, Number(row.seq), row.at.toISOString(), entry);
      statements.push([`UPDATE ${log()} SET entry = $1, prev_hash = $2, hash = $3, keyed = false WHERE seq = $4`, [JSON.stringify(entry), prev, hash, Number(row.seq)]]);
      prev = hash;
    }
    await tamper(...statements);
    // Alone, the database shows only legacy entries (documented: only a checkpoint proves them).
    expect(await runMain(['audit', 'verify', '--config', configFile])).toMatchObject({ code: 0, stdout: expect.stringMatching(/entries 1-4 are unkeyed legacy entries/) });
    const verified = await runMain(['audit', 'verify', '--config', configFile, '--against', checkpoints]);
    expect(verified.code).toBe(1);
    expect(verified.stderr).toMatch(/entry 4 is not the entry checkpointed at .*: the log was rewritten up to it/);
  });
});

describe('cutting the entry of a batch that deleted rows', () => {
  it('is caught even when another batch of the sweep, which changed nothing, wrote an entry (it kept held rows)', async () => {
    const { addHold } = await import('../../src/executor/place-hold.js');
    const { startSweep } = await import('../../src/executor/start-sweep.js');
    const { executeBatch } = await import('../../src/executor/execute-batch.js');
    const { RULE_SHAPE_VERSION } = await import('../../src/policy/rule.js');
    await env.sql(`CREATE TABLE ${env.schema}.visits (id bigint PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
    // Ids 1-100 are the held person's (batch 0 changes nothing, keeps 100, and writes an
    // entry for that); 101-200 someone else's (batch 1 deletes them).
    await env.sql(`INSERT INTO ${env.schema}.visits SELECT g, now() - interval '2 years', CASE WHEN g <= 100 THEN 'alice' ELSE 'bob' END FROM generate_series(1, 200) g`);
    const held = env.config([{ id: 'visits', table: 'visits', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id', batchSize: 100 }]);
    const runtime = await env.runtime(held);
    await addHold(runtime, { subject: 'alice', reason: 'case', actor: 'legal' });
    const rule = held.rules[0]!;
    const { result } = await startSweep(runtime, 'job-cut', { trigger: 'schedule', ruleId: rule.id, ruleHash: rule.hash, v: RULE_SHAPE_VERSION });
    expect((await executeBatch(runtime, result.sweepId, 0)).rows).toBe(0);
    expect((await executeBatch(runtime, result.sweepId, 1)).rows).toBe(100);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);

    // Someone who owns the state database cuts the newest entry: batch 1's, 100 rows deleted.
    await env.sql(`ALTER TABLE ${env.stateSchema}.audit_log DISABLE TRIGGER USER`);
    await env.sql(`DELETE FROM ${env.stateSchema}.audit_log WHERE seq = (SELECT max(seq) FROM ${env.stateSchema}.audit_log)`);
    const verified = await verifyAudit(runtime.state);
    expect(verified.ok).toBe(false);
    expect(JSON.stringify(verified)).toMatch(/batch 1 of sweep \w+ is recorded done with rows changed, but the log has no entry for it/);
  });
});
