import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/queue/queue-names.js';
import { offerNextExpiry } from '../../src/queue/next-expiry-jobs.js';
import { openQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { plannedSweep } from '../executor/planned-sweep.js';
import { runMain, spawnCli, tempDir } from './cli-harness.js';

/**
 * `retention status` on real sweeps, requests, queue and audit log: what it shows per rule,
 * and that its exit code says when a promise is not being kept (1), or could not be
 * checked (3), so that it can be used in monitoring.
 */

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let root: string;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface StatusJson {
  now: string;
  ok: boolean;
  exitCode: number;
  findings: { severity: string; rule: string | null; kind: string; message: string }[];
  rules: {
    id: string;
    schedule: string;
    lastSweep: { id: string; status: string; trigger: string; actor: string; rows: number; reason: string | null } | null;
    lastDone: { id: string; rows: number } | null;
    endedSinceDone: { failed: number; superseded: number; cancelled: number };
    blocked: { sweepId: string; reason: string; affected: number; command: string | null } | null;
    nextRun: { kind: string; at?: string | null; schedule?: string | null; nextExpiry?: string | null; registered?: boolean; current?: boolean };
    lag: { ms: number | null; oldestExpiredEnd?: string | null; lateAfter?: string | null; late?: boolean; unknown?: string };
    holds: { rule: { id: string } | null; subjects: number };
    incidents: { count: number; found: number; lastSweepId: string } | null;
  }[];
  requests: { open: number; overdue: number; nearest: { id: string; dueAt: string; daysLeft: number; overdue: boolean } | null };
  queue: { waiting: number; active: number; delayed: number; failed: number; workers: number } | { error: string };
  audit: { ok: boolean | null; entries?: number; seq?: number; problem?: string; reason?: string };
}

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  root = await mkdtemp(join(tmpdir(), 'retention-status-'));
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, user_id text)`);
  await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  dir.remove();
  await env.cleanup();
});

const logsRule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', subject: 'user_id', schedule: 'manual' };

function write(rules: Record<string, unknown>[], extra: Record<string, unknown> = {}): string {
  return dir.write('retention.yaml', env.configYaml(rules, { stores: { app: { kind: 'postgres', url: env.pool.options.connectionString }, files: { kind: 'files', root } }, ...extra }));
}

async function status(file: string): Promise<{ code: number; json: StatusJson; stderr: string }> {
  const result = await runMain(['status', '--json', '--config', file]);
  return { code: result.code, json: JSON.parse(result.stdout) as StatusJson, stderr: result.stderr };
}

const rule = (json: StatusJson, id: string) => json.rules.find((r) => r.id === id)!;
const auditEntries = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM "${env.stateSchema}".audit_log`))[0]!.n);

describe('retention status', () => {
  it('after a real run: the done sweep, its rows and who ran it; the chain verified; a files rule\'s lag counted; all checked is exit 0', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 5)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() FROM generate_series(1, 2)`);
    const file = write([logsRule, { id: 'exports', store: 'files', path: '*.csv', anchor: 'mtime', retain: 'P14D', action: 'delete', schedule: 'manual' }]);
    expect((await runMain(['run', '--rule', 'logs', '--actor', 'ops', '--config', file])).code).toBe(0);
    // A dry run keeps no promise: the status is the real sweep's.
    expect((await runMain(['run', '--rule', 'logs', '--dry-run', '--config', file])).code).toBe(0);

    const { code, json, stderr } = await status(file);
    // A files store cannot tell its oldest expired item, but it counts the expired ones:
    // none here (test/cli/status-counted-lag.test.ts has the rest).
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(json).toMatchObject({ ok: true, exitCode: 0 });
    expect(json.findings).toEqual([]);
    const logs = rule(json, 'logs');
    expect(logs.lastSweep).toMatchObject({ status: 'done', rows: 5, actor: 'ops', trigger: 'manual' });
    expect(logs.lastDone).toMatchObject({ id: logs.lastSweep!.id, rows: 5 });
    expect(logs.nextRun).toEqual({ kind: 'manual' });
    expect(logs.lag).toMatchObject({ ms: 0, oldestExpiredEnd: null, late: false });
    // Counted: nothing expired is present, so 0.
    const exports = rule(json, 'exports');
    expect(exports.lastSweep).toBeNull();
    expect(exports.lag).toMatchObject({ ms: 0, late: false, pendingItems: 0 });
    expect(json.audit).toEqual({ ok: true, entries: await auditEntries(), legacy: 0 });
    expect(json.audit.entries).toBeGreaterThan(0);
    expect(json.queue).toMatchObject({ active: 0, workers: 0 });
    expect(json.requests).toEqual({ open: 0, overdue: 0, nearest: null });

    const text = await runMain(['status', '--config', file]);
    expect(text.code).toBe(0);
    const row = text.stdout.split('\n').find((l) => l.startsWith('logs '))!;
    expect(row.split(/\s{2,}/)).toEqual(['logs', 'done', expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/), 'ops (manual)', '5', 'manual', '0', 'ok']);
    expect(text.stdout.split('\n').find((l) => l.startsWith('exports '))).toMatch(/never swept\s+manual\s+0\s+ok$/);
    expect(text.stdout).toContain(`audit chain: OK, ${await auditEntries()} entries verified`);
    expect(text.stdout).toMatch(/all promises kept$/);
  });

  it('a sweep blocked by its limits: shown with the command that confirms it, exit 1; confirmed, all is well again', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 2000)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() FROM generate_series(1, 3000)`);
    const file = write([{ ...logsRule, limits: { maxFraction: 0.2 } }]);
    expect((await runMain(['run', '--rule', 'logs', '--config', file])).code).toBe(3);
    const [blocked] = await env.sql<{ id: string; token: string }>(`SELECT id, blocked->>'confirmToken' AS token FROM "${env.stateSchema}".sweeps`);

    const { code, json, stderr } = await status(file);
    expect(code).toBe(1);
    expect(stderr).toBe('retention: status: 1 promise not being kept');
    const logs = rule(json, 'logs');
    expect(logs.lastSweep).toMatchObject({ id: blocked!.id, status: 'blocked' });
    expect(logs.blocked).toMatchObject({ sweepId: blocked!.id, affected: 2000, command: `retention run --rule logs --confirm ${blocked!.token}` });
    expect(json.findings).toEqual([
      expect.objectContaining({ severity: 'problem', rule: 'logs', kind: 'blocked' }),
      expect.objectContaining({ severity: 'unknown', rule: 'logs', kind: 'manual-pending' }),
    ]);
    const text = await runMain(['status', '--config', file]);
    expect(text.stdout.split('\n').find((l) => l.startsWith('logs '))).toMatch(/blocked .* \(2000\) .* BLOCKED, unknown$/);
    expect(text.stdout).toContain(`if this is intended: retention run --rule logs --confirm ${blocked!.token}`);

    // The rule defined differently since: that token would not be taken, so no command is offered.
    const changed = dir.write('changed.yaml', env.configYaml([{ ...logsRule, limits: { maxFraction: 0.2 }, retain: 'P2D' }]));
    const stale = await status(changed);
    expect(stale.code).toBe(1);
    expect(rule(stale.json, 'logs').blocked).toMatchObject({ sweepId: blocked!.id, command: null });
    expect(stale.json.findings[0]!.message).toContain('run "retention plan --rule logs" for a token');

    // The command as printed confirms it.
    const confirmed = await runMain([...logs.blocked!.command!.split(' ').slice(1), '--config', file]);
    expect(confirmed.code).toBe(0);
    const after = await status(file);
    expect(after.code).toBe(0);
    expect(rule(after.json, 'logs')).toMatchObject({ blocked: null, lastSweep: { status: 'done', rows: 2000 } });
  });

  it('a failed sweep: exit 1 while it is the last; the sweeps ended early since the last done one are counted', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 3)`);
    const config = env.config([logsRule]);
    const file = write([logsRule]);
    await env.run(config);
    // The schema changes under the rule: every batch fails the same way, twice.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 4)`);
    await env.sql(`ALTER TABLE ${env.schema}.logs RENAME COLUMN at TO at_renamed`);
    for (let i = 0; i < 2; i++) await env.run(config).catch(() => undefined);
    await env.sql(`ALTER TABLE ${env.schema}.logs RENAME COLUMN at_renamed TO at`);

    const failed = await status(file);
    expect(failed.code).toBe(1);
    const logs = rule(failed.json, 'logs');
    expect(logs.lastSweep).toMatchObject({ status: 'failed', reason: expect.stringContaining('does not exist') });
    expect(logs.lastDone).toMatchObject({ rows: 3 });
    expect(logs.endedSinceDone).toEqual({ failed: 2, superseded: 0, cancelled: 0 });
    expect(failed.json.findings).toEqual([expect.objectContaining({ rule: 'logs', kind: 'failed' }), expect.objectContaining({ rule: 'logs', kind: 'manual-pending' })]);
    const text = await runMain(['status', '--config', file]);
    expect(text.stdout.split('\n').find((l) => l.startsWith('logs '))).toMatch(/failed .* 2 failed .* FAILED, unknown$/);

    // The cause fixed, the next sweep is done: nothing is wrong any more.
    await env.run(config);
    const fixed = await status(file);
    expect(fixed.code).toBe(0);
    expect(rule(fixed.json, 'logs')).toMatchObject({ lastSweep: { status: 'done', rows: 4 }, endedSinceDone: { failed: 0, superseded: 0, cancelled: 0 } });
  });

  it('an overdue erasure request: counted with the nearest deadline, exit 1', async () => {
    const file = write([logsRule]);
    const old = await runMain(['erase', '--subject', 'u-9', '--received', '2025-01-02', '--no-wait', '--json', '--config', file]);
    expect(old.code).toBe(0);
    const { requestId } = JSON.parse(old.stdout) as { requestId: string };
    expect((await runMain(['erase', '--subject', 'u-10', '--no-wait', '--config', file])).code).toBe(0);

    const { code, json } = await status(file);
    expect(code).toBe(1);
    expect(json.requests).toMatchObject({ open: 2, overdue: 1, nearest: { id: requestId, overdue: true } });
    expect(json.requests.nearest!.daysLeft).toBeLessThan(0);
    expect(json.findings).toEqual([expect.objectContaining({ rule: null, kind: 'overdue-request', message: expect.stringContaining('1 erasure request is overdue') })]);
    // Their erase jobs wait in the queue for a worker.
    expect(json.queue).toMatchObject({ waiting: 2, workers: 0 });
    const text = await runMain(['status', '--config', file]);
    expect(text.stdout).toMatch(new RegExp(`requests: 2 open, 1 overdue; nearest deadline \\S+ \\(${requestId}, \\d+ days overdue\\)`));
  });

  it('a tampered audit entry: the chain is not OK, exit 1; without the audit key it cannot be checked, exit 3', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 3)`);
    const file = write([logsRule]);
    expect((await runMain(['run', '--rule', 'logs', '--config', file])).code).toBe(0);
    expect((await status(file)).code).toBe(0);

    const unkeyed = await spawnCli(['status', '--json', '--config', file], { RETENTION_AUDIT_KEY: '' });
    expect(unkeyed.code).toBe(3);
    expect(unkeyed.stderr.trim()).toBe('retention: status: 1 promise not shown to be kept (could not be checked, or waiting for a person)');
    expect((JSON.parse(unkeyed.stdout) as StatusJson).audit).toMatchObject({ ok: null, reason: expect.stringContaining('RETENTION_AUDIT_KEY is not set') });

    // Someone who can write to the state database changes the rows an entry says were deleted.
    const client = await env.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`ALTER TABLE "${env.stateSchema}".audit_log DISABLE TRIGGER USER`);
      await client.query(`UPDATE "${env.stateSchema}".audit_log SET entry = jsonb_set(entry, '{rows}', '1') WHERE seq = 1`);
      await client.query(`ALTER TABLE "${env.stateSchema}".audit_log ENABLE TRIGGER USER`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const { code, json } = await status(file);
    expect(code).toBe(1);
    expect(json.audit).toMatchObject({ ok: false, seq: 1, entries: 0, problem: expect.stringContaining('entry 1 was altered') });
    expect(json.findings).toEqual([expect.objectContaining({ kind: 'audit' })]);
    const text = await runMain(['status', '--config', file]);
    expect(text.stdout).toContain('audit chain: BROKEN at entry 1: entry 1 was altered');
  });

  it('lag of a rule with unswept expired rows: late past its schedule plus the margin, exit 1; a manual rule\'s is not late, and never fine', async () => {
    // Whole seconds: an anchor with digits below the millisecond ends with the later millisecond.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (date_trunc('second', now()) - interval '3 days'), (now() - interval '2 days'), (now())`);
    const [{ at: oldest }] = (await env.sql<{ at: Date }>(`SELECT min(at) AS at FROM ${env.schema}.logs`)) as [{ at: Date }];
    const scheduled = { ...logsRule, schedule: 'PT1H' };
    const file = write([scheduled, { ...logsRule, id: 'logs-by-hand' }]);
    // A worker's registration of the schedule, and a worker connected (it takes jobs and does nothing).
    const queue = openQueue(env.redis(), env.prefix);
    const config = env.config([scheduled, { ...logsRule, id: 'logs-by-hand' }]);
    await syncSchedulers(queue, config);
    // And a next-expiry sweep queued for the rule, as a worker queues one when a row is due.
    const instant = Date.now() + 5 * 60_000;
    expect(await offerNextExpiry(queue, config.rules[0]!, instant, Date.now())).toMatchObject({ at: instant });
    const worker = new Worker(QUEUE_NAME, async () => undefined, { connection: env.redis(), prefix: env.prefix });
    await worker.waitUntilReady();
    try {
      const { code, json } = await status(file);
      expect(code).toBe(1);
      const logs = rule(json, 'logs');
      const end = oldest.getTime() + DAY;
      expect(logs.lag).toMatchObject({ oldestExpiredEnd: new Date(end).toISOString(), late: true, lateAfter: new Date(end + HOUR + 15 * 60_000).toISOString() });
      expect(logs.lag.ms).toBe(Date.parse(json.now) - end);
      expect(logs.nextRun).toMatchObject({ kind: 'scheduled', registered: true, current: true, nextExpiry: new Date(instant).toISOString() });
      expect(Date.parse(logs.nextRun.schedule!)).toBeGreaterThan(Date.parse(json.now) - HOUR);
      expect(logs.nextRun.at).toBe(new Date(Math.min(instant, Date.parse(logs.nextRun.schedule!))).toISOString());
      const byHand = rule(json, 'logs-by-hand');
      expect(byHand.lag).toMatchObject({ ms: logs.lag.ms, late: false, lateAfter: null });
      expect((json.queue as { workers: number }).workers).toBe(1);
      expect(json.findings).toEqual([
        expect.objectContaining({ severity: 'problem', rule: 'logs', kind: 'late' }),
        expect.objectContaining({ severity: 'unknown', rule: 'logs-by-hand', kind: 'manual-pending', message: expect.stringContaining('expired items present (the oldest reached its end at') }),
      ]);
      const text = await runMain(['status', '--config', file]);
      expect(text.stdout.split('\n').find((l) => l.startsWith('logs '))).toMatch(/never swept .* 2d( \d+[hms])* LATE\s+LATE$/);
      expect(text.stdout).toContain('logs-by-hand: the oldest expired item still present reached its end at');
      expect(text.stdout).toContain('(a manual rule: nothing runs it but a person)');
      expect(text.stdout).toContain('manual rule: run it (retention run --rule logs-by-hand)');
      expect(text.stdout.split('\n').find((l) => l.startsWith('logs-by-hand '))).toMatch(/unknown$/);
    } finally {
      await worker.close();
      await queue.close();
    }
    // No worker left to run the schedule: said too.
    const alone = await status(file);
    expect(alone.json.findings.map((f) => f.kind).sort()).toEqual(['late', 'manual-pending', 'no-worker']);

    // A rule on legal hold is kept from sweeping on purpose: not late, nor waiting for a worker.
    expect((await runMain(['hold', 'add', '--rule', 'logs', '--reason', 'regulator inquiry', '--config', file])).code).toBe(0);
    const held = await status(file);
    expect(rule(held.json, 'logs')).toMatchObject({ holds: { rule: expect.objectContaining({ id: expect.any(String) }) }, lag: { late: false, lateAfter: null } });
    // The manual rule's expired rows are still there: never "all promises kept" (exit 3).
    expect(held.json.findings).toEqual([expect.objectContaining({ severity: 'unknown', rule: 'logs-by-hand', kind: 'manual-pending' })]);
    expect(held.code).toBe(3);
    // Run by hand, nothing expired is left: exit 0.
    expect((await runMain(['run', '--rule', 'logs-by-hand', '--config', file])).code).toBe(0);
    const swept = await status(file);
    expect(swept.json.findings).toEqual([]);
    expect(swept.code).toBe(0);
  });

  it('never-store incidents recorded on closing entries: counted per rule, shown, and not a failure of the present', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.faces (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
    await env.sql(`INSERT INTO ${env.schema}.faces (at) SELECT now() - interval '1 hour' FROM generate_series(1, 3)`);
    const faces = { id: 'faces', table: 'faces', anchor: 'at', retain: 'PT0S', never: true, action: 'delete', schedule: 'manual' };
    const file = write([logsRule, faces]);
    expect((await runMain(['run', '--rule', 'faces', '--config', file])).code).toBe(0);
    await env.sql(`INSERT INTO ${env.schema}.faces (at) SELECT now() - interval '1 hour' FROM generate_series(1, 2)`);
    expect((await runMain(['run', '--rule', 'faces', '--config', file])).code).toBe(0);

    const result = await runMain(['status', '--json', '--config', file]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as StatusJson;
    const [last] = await env.sql<{ id: string }>(`SELECT id FROM "${env.stateSchema}".sweeps ORDER BY created_at DESC LIMIT 1`);
    expect(json.rules.find((r) => r.id === 'faces')!.incidents).toMatchObject({ count: 2, found: 5, lastSweepId: last!.id });
    expect(json.rules.find((r) => r.id === 'logs')!.incidents).toBeNull();
    const text = await runMain(['status', '--config', file]);
    expect(text.stdout).toMatch(/faces: 2 never-store incidents, 5 items found; the last at \S+ \(sweep /);
  });

  it('a store that does not answer: lag unknown (never 0) and exit 3 when nothing else is wrong', async () => {
    const file = write([logsRule, { id: 'elsewhere', store: 'down', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'manual' }], {
      stores: { app: { kind: 'postgres', url: env.pool.options.connectionString }, down: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:1/test' } },
    });
    const { code, json, stderr } = await status(file);
    expect(code).toBe(3);
    expect(stderr).toBe('retention: status: 1 promise not shown to be kept (could not be checked, or waiting for a person)');
    expect(rule(json, 'elsewhere').lag).toMatchObject({ ms: null, unknown: expect.stringMatching(/store down did not answer/) });
    expect(json.findings).toEqual([expect.objectContaining({ severity: 'unknown', rule: 'elsewhere', kind: 'lag' })]);
    // It read the queue and wrote nothing there.
    expect(json.queue).toMatchObject({ workers: 0 });
    expect(await env.redis().keys(`${env.prefix}:*`)).toEqual([]);
  });

  it('the queue\'s Redis unreachable: no sweep can run, said, exit 1; next runs unknown', async () => {
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now())`);
    const file = write([{ ...logsRule, schedule: 'PT1H' }], { redis: 'redis://127.0.0.1:1' });
    const { code, json } = await status(file);
    expect(code).toBe(1);
    expect(json.queue).toEqual({ error: expect.stringContaining('cannot connect to Redis at redis://127.0.0.1:1') });
    expect(rule(json, 'logs').nextRun).toEqual({ kind: 'unknown', reason: 'the queue cannot be read' });
    expect(json.findings).toEqual([expect.objectContaining({ severity: 'problem', rule: null, kind: 'queue' })]);
    // The rest is still read and shown.
    expect(json.audit).toMatchObject({ ok: true });
    expect(rule(json, 'logs').lag).toMatchObject({ ms: 0 });
  });
  it('a cancelled last sweep is a promise not kept (exit 1) until a later sweep is done, even before its items are late', async () => {
    // Expired a few minutes ago: a daily schedule is not late for them yet.
    await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '1 day 5 minutes' FROM generate_series(1, 3)`);
    // A scheduled rule with a worker connected and its scheduler registered: nothing else to say.
    const scheduled = { ...logsRule, schedule: 'P1D' };
    const file = write([scheduled]);
    const config = env.config([scheduled]);
    const queue = openQueue(env.redis(), env.prefix);
    await syncSchedulers(queue, config);
    const worker = new Worker(QUEUE_NAME, async () => undefined, { connection: env.redis(), prefix: env.prefix, autorun: false });
    await worker.waitUntilReady();
    try {
      const sweep = await plannedSweep(env, config, await env.runtime(config));
      expect((await runMain(['sweeps', 'cancel', sweep.id, '--reason', 'wrong window', '--config', file])).code).toBe(0);
      const { code, json } = await status(file);
      expect(json.findings).toEqual([
        {
          severity: 'problem',
          rule: 'logs',
          kind: 'ended-early',
          message: `rule logs: its last sweep (${sweep.id}) was cancelled (wrong window) and no sweep is done since: run it again (retention run --rule logs) or wait for its schedule`,
        },
      ]);
      expect(code).toBe(1);
      const text = await runMain(['status', '--config', file]);
      expect(text.stdout.split('\n').find((l) => l.startsWith('logs '))).toMatch(/cancelled .* ENDED-EARLY$/);

      expect((await runMain(['run', '--rule', 'logs', '--config', file])).code).toBe(0);
      const after = await status(file);
      expect(after.json.findings).toEqual([]);
      expect(after.code).toBe(0);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('a job scheduler registered for another definition of the rule is not-scheduled while workers run (exit 1)', async () => {
    const scheduled = { ...logsRule, schedule: 'PT1H' };
    const file = write([scheduled]);
    // A worker on an older config registered the rule as it defined it then.
    const queue = openQueue(env.redis(), env.prefix);
    await syncSchedulers(queue, env.config([{ ...scheduled, retain: 'P2D' }]));
    const worker = new Worker(QUEUE_NAME, async () => undefined, { connection: env.redis(), prefix: env.prefix, autorun: false });
    await worker.waitUntilReady();
    try {
      const { code, json } = await status(file);
      expect(rule(json, 'logs').nextRun).toMatchObject({ registered: true, current: false });
      expect(json.findings).toEqual([expect.objectContaining({ severity: 'problem', rule: 'logs', kind: 'not-scheduled', message: expect.stringContaining('carries another definition of the rule') })]);
      expect(code).toBe(1);
      // Registered as this config defines it: fine.
      await syncSchedulers(queue, env.config([scheduled]));
      const current = await status(file);
      expect(current.json.findings).toEqual([]);
      expect(current.code).toBe(0);
    } finally {
      await worker.close();
      await queue.close();
    }
  });

  it('a paused queue is a promise not kept (exit 1): no worker takes a job', async () => {
    const file = write([logsRule]);
    const queue = openQueue(env.redis(), env.prefix);
    try {
      await queue.pause();
      const { code, json } = await status(file);
      expect(json.queue).toMatchObject({ paused: true });
      expect(json.findings).toEqual([expect.objectContaining({ severity: 'problem', rule: null, kind: 'queue', message: expect.stringContaining('the queue is paused') })]);
      expect(code).toBe(1);
      expect((await runMain(['status', '--config', file])).stdout).toMatch(/^queue: PAUSED; /m);
      await queue.resume();
      const resumed = await status(file);
      expect(resumed.json.queue).toMatchObject({ paused: false });
      expect(resumed.code).toBe(0);
    } finally {
      await queue.close();
    }
  });
});
