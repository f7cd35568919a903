import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claimNextExpiry, nextExpiryJobId, offerNextExpiry } from '../../src/queue/next-expiry-jobs.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { createTestEnv, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';

/**
 * Next-expiry scheduling with real workers on the real services: a row due in a few
 * seconds goes within seconds under a rule whose regular schedule is hourly (only the
 * delayed next-expiry job can take it), and workers offering a rule's next expiry queue
 * one job, not one each. No assertion on time: waits are generous, outcomes are checked.
 */

const CLI = new URL('../../scripts/retention.mjs', import.meta.url).pathname;
const exec = promisify(execFile);

let env: TestEnv;
let file: string;
let children: ChildProcess[] = [];
let queues: SweepQueue[] = [];
beforeEach(async () => {
  env = await createTestEnv();
  file = join(tmpdir(), `retention-next-expiry-${env.id}.yaml`);
});
afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  children = [];
  await Promise.all(queues.map((q) => q.close()));
  queues = [];
  rmSync(file, { force: true });
  await env.cleanup();
});

function startWorker(): { child: ChildProcess; output: () => string } {
  const child = spawn('node', [CLI, 'worker', '--config', file], { env: { ...process.env, RETENTION_HMAC_KEY: TEST_HMAC_KEY } });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return { child, output: () => out };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const rule = { id: 'logs', table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'PT1H' };

describe('next-expiry scheduling', () => {
  it('a running worker deletes a row due in 3 s, and the next one after it, under an hourly schedule', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, label text, at timestamptz)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    // Due 3 s and 15 s from now (retain P1D), and one due tomorrow that must stay.
    await env.sql(
      `INSERT INTO ${env.schema}.logs (label, at) VALUES
         ('soon', now() - interval '1 day' + interval '3 seconds'),
         ('later', now() - interval '1 day' + interval '15 seconds'),
         ('tomorrow', now())`,
    );
    writeFileSync(file, env.configYaml([rule]));
    const worker = startWorker();
    const labels = async () => (await env.sql<{ label: string }>(`SELECT label FROM ${env.schema}.logs ORDER BY label`)).map((r) => r.label);
    await until('the row due in 3 s to go', async () => !(await labels()).includes('soon'), 30_000);
    // The sweep that took it queued the next expiry: the row due at 15 s goes too, long
    // before the hourly schedule's next run.
    await until('the row due in 15 s to go', async () => !(await labels()).includes('later'), 40_000);
    expect(await labels()).toEqual(['tomorrow']);

    // The audit shows scheduled sweeps that deleted each row, with their lag at planning.
    const finished = await env.sql<{ entry: { rows: number; trigger: string; lagMs?: number } }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'sweep-finished' AND (entry->>'rows')::int > 0 ORDER BY seq`,
    );
    expect(finished.map((f) => [f.entry.rows, f.entry.trigger])).toEqual([
      [1, 'schedule'],
      [1, 'schedule'],
    ]);
    for (const f of finished) expect(typeof f.entry.lagMs).toBe('number');
    expect(worker.output()).toContain('next expiries queued');
    const { stdout } = await exec('node', [CLI, 'audit', 'verify', '--config', file]);
    expect(stdout).toContain('audit log intact');
  });

  it('two workers starting together queue the rule next expiry once', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz)`);
    await env.sql(`CREATE INDEX ON ${env.schema}.logs (at)`);
    await env.sql(`INSERT INTO ${env.schema}.logs (at) VALUES (now() - interval '1 day' + interval '10 minutes'), (now() - interval '1 day' + interval '20 minutes')`);
    writeFileSync(file, env.configYaml([rule]));
    const workers = [startWorker(), startWorker()];
    await until('both workers to queue next expiries', async () => workers.every((w) => w.output().includes('next expiries queued')));
    const queue = openQueue(env.redis(), env.prefix);
    queues.push(queue);
    const delayed = (await queue.getDelayed()).filter((j) => j.id?.startsWith('x-'));
    expect(delayed.map((j) => j.id)).toHaveLength(1);
    expect(delayed[0]!.data).toMatchObject({ trigger: 'schedule', ruleId: 'logs' });
  });

  it('offers from several workers queue one job per rule: a later instant waits for the pending one, an earlier one is queued', async () => {
    const config = env.config([{ ...rule, table: 'logs' }]);
    const r = config.rules[0]!;
    const [a, b] = [openQueue(env.redis(), env.prefix), openQueue(env.redis(), env.prefix)];
    queues.push(a, b);
    const now = Date.now();
    // Two workers' sweeps end a moment apart: each coalesces to its own sweep's now + 1 s.
    expect(await offerNextExpiry(a, r, now + 60_000, now)).toEqual({ queued: nextExpiryJobId(r, now + 60_000, 1), at: now + 60_000 });
    expect(await offerNextExpiry(b, r, now + 60_300, now)).toEqual({ skipped: 'pending' });
    expect(await offerNextExpiry(b, r, now + 60_000, now)).toEqual({ skipped: 'pending' });
    expect((await a.getDelayed()).map((j) => j.id)).toEqual([nextExpiryJobId(r, now + 60_000, 1)]);
    // Something due sooner (a worker's start found a backlog): queued as well.
    expect(await offerNextExpiry(b, r, now + 5_000, now)).toEqual({ queued: nextExpiryJobId(r, now + 5_000, 2), at: now + 5_000 });
    // The job starting clears the pending instant, so its sweep's end can queue the next.
    expect(await claimNextExpiry(a, nextExpiryJobId(r, now + 60_000, 1))).toBe(false);
    expect(await claimNextExpiry(a, nextExpiryJobId(r, now + 5_000, 2))).toBe(true);
    expect(await offerNextExpiry(a, r, now + 70_000, now)).toEqual({ queued: nextExpiryJobId(r, now + 70_000, 3), at: now + 70_000 });
  });

  it('queues the same instant again while the job for it still runs (it fired early, its worker\'s clock ahead): a new job, not an ignored add', async () => {
    const config = env.config([{ ...rule, table: 'logs' }]);
    const r = config.rules[0]!;
    const queue = openQueue(env.redis(), env.prefix);
    queues.push(queue);
    const now = Date.now();
    const first = await offerNextExpiry(queue, r, now + 60_000, now);
    expect(first).toMatchObject({ at: now + 60_000 });
    const id = (first as { queued: string }).queued;
    // The job runs early (a skewed clock: here promoted out of the delayed set) and claims
    // its instant; it is still there (waiting, active) when its sweep ends and computes the
    // same instant again.
    await (await queue.getJob(id))!.promote();
    expect(await claimNextExpiry(queue, id)).toBe(true);
    const again = await offerNextExpiry(queue, r, now + 60_000, now);
    expect(again).toMatchObject({ at: now + 60_000 });
    expect((again as { queued: string }).queued).not.toBe(id);
    expect((await queue.getDelayed()).map((j) => j.id)).toContain((again as { queued: string }).queued);
  });
});
