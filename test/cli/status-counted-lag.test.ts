import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { QUEUE_NAME } from '../../src/queue/queue-names.js';
import { openQueue, type SweepQueue } from '../../src/queue/sweep-queue.js';
import { syncSchedulers } from '../../src/queue/sync-schedulers.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { createTestEnv, REDIS_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from './cli-harness.js';

/**
 * `retention status` on stores that cannot tell their oldest expired item (a real Redis key
 * pattern, a real directory): the lag judged by counting the items expired as of the
 * latest end that is late now, and those expired now. Hourly rules with a one-hour
 * period: an item is late once it is more than 1h 15m (the interval plus the 15-minute
 * margin) past its end.
 */

let env: TestEnv;
let dir: ReturnType<typeof tempDir>;
let root: string;
let keys: string;
let queue: SweepQueue;
let worker: Worker;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

interface LagJson {
  ms: number | null;
  late: boolean;
  heldIncluded: boolean;
  pendingItems: number | null;
  lateItems: number | null;
  thresholdMs: number | null;
}
interface StatusJson {
  exitCode: number;
  findings: { severity: string; rule: string | null; kind: string; message: string }[];
  rules: { id: string; lag: LagJson }[];
}

const rules = () => [
  { id: 'sessions', store: 'cache', keys: `${keys}:session:*`, anchor: 'at', anchorUnit: 'ms', retain: 'PT1H', action: 'delete', schedule: 'PT1H' },
  { id: 'exports', store: 'files', path: '{subject}/*.csv', anchor: 'mtime', retain: 'PT1H', action: 'delete', schedule: 'PT1H' },
];
const stores = () => ({ cache: { kind: 'redis', url: REDIS_URL }, files: { kind: 'files', root } });

beforeEach(async () => {
  env = await createTestEnv();
  dir = tempDir();
  root = await mkdtemp(join(tmpdir(), 'retention-status-counted-'));
  // Beside the queue's prefix, never under it (a rule never reaches the queue's keys).
  keys = `${env.prefix}.sl`;
  // A worker connected and the schedules registered, as in production: nothing else to say.
  queue = openQueue(env.redis(), env.prefix);
  await syncSchedulers(queue, env.config(rules(), { stores: stores() }));
  worker = new Worker(QUEUE_NAME, async () => undefined, { connection: env.redis(), prefix: env.prefix, autorun: false });
  await worker.waitUntilReady();
});
afterEach(async () => {
  await worker.close();
  await queue.close();
  await deleteKeysMatching(env.redis(), `${keys}:*`);
  await rm(root, { recursive: true, force: true });
  dir.remove();
  await env.cleanup();
});

/** A session whose period (one hour) ended `ago` ms ago (negative: not yet). */
async function session(name: string, ago: number): Promise<void> {
  await env.redis().hset(`${keys}:session:${name}`, { at: String(Date.now() - HOUR - ago) });
}

/** A subject's export file whose period ended `ago` ms ago. */
async function exportFile(subject: string, name: string, ago: number): Promise<void> {
  await mkdir(join(root, subject), { recursive: true });
  const path = join(root, subject, name);
  await writeFile(path, 'x');
  const mtime = (Date.now() - HOUR - ago) / 1000;
  await utimes(path, mtime, mtime);
}

async function status(): Promise<{ code: number; json: StatusJson; text: string }> {
  const file = dir.write('retention.yaml', env.configYaml(rules(), { stores: stores() }));
  const json = await runMain(['status', '--json', '--config', file]);
  const text = await runMain(['status', '--config', file]);
  expect(text.code).toBe(json.code);
  return { code: json.code, json: JSON.parse(json.stdout) as StatusJson, text: text.stdout };
}

const lagOf = (json: StatusJson, id: string) => json.rules.find((r) => r.id === id)!.lag;
const row = (text: string, id: string) => text.split('\n').find((l) => l.startsWith(`${id} `))!;
const THRESHOLD = HOUR + 15 * MINUTE;

describe('status on Redis and files rules: the lag judged by counting', () => {
  it('nothing expired: lag 0 and exit 0, all promises kept', async () => {
    await session('young', -10 * MINUTE);
    await exportFile('u1', 'a.csv', -10 * MINUTE);
    const { code, json, text } = await status();
    expect(json.findings).toEqual([]);
    expect(code).toBe(0);
    for (const id of ['sessions', 'exports']) {
      expect(lagOf(json, id)).toEqual({ ms: 0, late: false, heldIncluded: false, pendingItems: 0, lateItems: 0, thresholdMs: THRESHOLD });
      expect(row(text, id)).toMatch(/\s0\s+ok$/);
    }
    expect(text).toMatch(/all promises kept$/);
  });

  it('items expired within the threshold: exit 0, lag "under 1h 15m", never 0', async () => {
    await session('young', -10 * MINUTE);
    await session('due', 30 * MINUTE);
    await exportFile('u1', 'a.csv', 40 * MINUTE);
    await exportFile('u2', 'b.csv', 50 * MINUTE);
    const { code, json, text } = await status();
    expect(json.findings).toEqual([]);
    expect(code).toBe(0);
    expect(lagOf(json, 'sessions')).toEqual({ ms: null, late: false, heldIncluded: false, pendingItems: 1, lateItems: 0, thresholdMs: THRESHOLD });
    expect(lagOf(json, 'exports')).toMatchObject({ ms: null, late: false, pendingItems: 2, lateItems: 0 });
    expect(row(text, 'sessions')).toMatch(/\sunder 1h 15m\s+ok$/);
    expect(row(text, 'exports')).toMatch(/\sunder 1h 15m\s+ok$/);
    expect(text).toContain('sessions: 1 expired item present, none past its end by more than 1h 15m (a redis store can count them, not tell when the oldest reached its end)');
  });

  it('items past the threshold: late, exit 1, with how many', async () => {
    await session('due', 30 * MINUTE);
    await session('old', 2 * HOUR);
    await session('older', 3 * HOUR);
    await exportFile('u1', 'a.csv', 2 * HOUR);
    const { code, json, text } = await status();
    expect(code).toBe(1);
    expect(json.findings).toEqual([
      { severity: 'problem', rule: 'sessions', kind: 'late', message: 'rule sessions is late: 2 items past their end by more than PT1H15M, which its schedule should have swept by now' },
      { severity: 'problem', rule: 'exports', kind: 'late', message: 'rule exports is late: 1 item past its end by more than PT1H15M, which its schedule should have swept by now' },
    ]);
    expect(lagOf(json, 'sessions')).toEqual({ ms: null, late: true, heldIncluded: false, pendingItems: null, lateItems: 2, thresholdMs: THRESHOLD });
    expect(row(text, 'sessions')).toMatch(/\sover 1h 15m LATE\s+LATE$/);
    expect(row(text, 'exports')).toMatch(/\sover 1h 15m LATE\s+LATE$/);
  });

  it('a held subject\'s items past the threshold are not late: the sweep keeps them; released, they are', async () => {
    await exportFile('u1', 'a.csv', 2 * HOUR);
    await exportFile('u2', 'b.csv', -10 * MINUTE);
    const file = dir.write('hold.yaml', env.configYaml(rules(), { stores: stores() }));
    expect((await runMain(['hold', 'add', '--subject', 'u1', '--reason', 'litigation', '--config', file])).code).toBe(0);
    const held = await status();
    expect(held.json.findings).toEqual([]);
    expect(held.code).toBe(0);
    expect(lagOf(held.json, 'exports')).toMatchObject({ ms: 0, late: false, pendingItems: 0, lateItems: 0 });

    expect((await runMain(['hold', 'release', '--subject', 'u1', '--reason', 'settled', '--config', file])).code).toBe(0);
    const released = await status();
    expect(released.code).toBe(1);
    expect(released.json.findings).toEqual([expect.objectContaining({ severity: 'problem', rule: 'exports', kind: 'late' })]);
  });

  it('a store that cannot count: lag unknown, never 0, exit 3', async () => {
    // Manual: the store is part of the rule's definition, so the registered scheduler would be another's.
    const file = dir.write('down.yaml', env.configYaml([{ ...rules()[0]!, schedule: 'manual' }], { stores: { ...stores(), cache: { kind: 'redis', url: 'redis://127.0.0.1:1' } } }));
    const result = await runMain(['status', '--json', '--config', file]);
    const json = JSON.parse(result.stdout) as StatusJson;
    expect(result.code).toBe(3);
    expect(json.rules.find((r) => r.id === 'sessions')!.lag).toMatchObject({ ms: null, unknown: expect.stringMatching(/^store cache could not count its expired items: /) });
    expect(json.findings).toEqual([expect.objectContaining({ severity: 'unknown', rule: 'sessions', kind: 'lag' })]);
  });

  it('a manual rule with expired items present: the manual-pending finding (exit 3); none: exit 0', async () => {
    const manual = [{ ...rules()[0]!, schedule: 'manual' }];
    const file = dir.write('manual.yaml', env.configYaml(manual, { stores: stores() }));
    await session('young', -10 * MINUTE);
    expect((await runMain(['status', '--config', file])).code).toBe(0);
    await session('due', 5 * MINUTE);
    const result = await runMain(['status', '--json', '--config', file]);
    expect(result.code).toBe(3);
    const json = JSON.parse(result.stdout) as StatusJson;
    expect(json.findings).toEqual([
      { severity: 'unknown', rule: 'sessions', kind: 'manual-pending', message: 'rule sessions: expired items present (1), manual rule: run it (retention run --rule sessions)' },
    ]);
    expect(json.rules[0]!.lag).toEqual({ ms: null, late: false, heldIncluded: false, pendingItems: 1, lateItems: null, thresholdMs: null });
  });
});
