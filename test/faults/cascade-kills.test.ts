import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { loadConfig } from '../../src/policy/load-config.js';
import { enqueueSweep, openQueue } from '../../src/queue/sweep-queue.js';
import { stateDb } from '../../src/state/state-db.js';
import { insertTrigger } from '../../src/state/triggers.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { DATABASE_URL, REDIS_URL } from '../helpers/test-env.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { BatchGate } from './helpers/batch-gate.js';
import type { FaultTable } from './helpers/fault-table.js';
import { RetentionProcess } from './helpers/retention-process.js';
import { FULL, START_TIMEOUT_MS } from './helpers/suite-size.js';
import { waitFor } from './helpers/wait-for.js';

/**
 * Row-to-file cascades under SIGKILL. Worker processes sweep a table of ID-photo rows whose
 * files live in a real directory, and are killed (1) while batches commit rows and queue
 * their files, and (2) with every row deleted and files still queued, while drains hold
 * entries whose files they already deleted: a gate (a trigger on the outbox's DELETE that
 * waits on a lock the harness holds) keeps every drain from committing, so the kills land
 * between the row commit and the end of the object deletions by construction.
 *
 * Throughout, no file whose row still exists is ever missing (checked at each kill); once a
 * worker that was not killed finishes, no file whose row is gone remains, the outbox is
 * empty, and each file was audited exactly once (deleted, or already gone when a killed
 * drain had deleted it before dying).
 */

/**
 * Rows in the table, full suite or not: worker-b must have a free slot for the batches of
 * the killed worker while its drains hold at the gate, one per 500 queued files.
 */
const ROWS = 2_000;
const BATCH_SIZE = 100;
/** Any one wait: the killed batches come back within about 15 s (their lock expires). */
const WAIT_MS = 90_000;
const RULE_ID = 'id-photos-180d';

let id: string;
let schema: string;
let stateSchema: string;
let dir: string;
let root: string;
let pool: pg.Pool;
let processes: RetentionProcess[];
let gates: BatchGate[];

beforeEach(async () => {
  id = randomBytes(4).toString('hex');
  schema = `flc_${id}`;
  stateSchema = `flc_${id}_state`;
  dir = mkdtempSync(join(tmpdir(), `retention-cascade-faults-${id}-`));
  root = join(dir, 'uploads');
  mkdirSync(root);
  pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  processes = [];
  gates = [];
});

afterEach(async () => {
  await Promise.all(processes.filter((p) => p.running).map((p) => p.kill('SIGKILL')));
  for (const gate of gates) await gate.end();
  const redis = new Redis(REDIS_URL);
  try {
    await deleteKeysMatching(redis, `${schema}:*`);
  } finally {
    redis.disconnect();
  }
  await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await pool.query(`DROP SCHEMA IF EXISTS "${stateSchema}" CASCADE`);
  await pool.end();
  rmSync(dir, { recursive: true, force: true });
});

const expiredId = (n: number) => n % 3 !== 0;
const pathOf = (n: number) => `p/${n % 20}/${n}.jpg`;

async function setup(): Promise<string> {
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await pool.query(`CREATE TABLE "${schema}".id_photos (id bigint PRIMARY KEY, paid_at timestamptz NOT NULL, file_path text)`);
  await pool.query(
    `INSERT INTO "${schema}".id_photos (id, paid_at, file_path)
     SELECT i, CASE WHEN i % 3 <> 0 THEN now() - interval '200 days' ELSE now() - interval '10 days' END,
            'p/' || (i % 20) || '/' || i || '.jpg'
       FROM generate_series(1, $1) i`,
    [ROWS],
  );
  for (let n = 1; n <= ROWS; n++) {
    mkdirSync(join(root, `p/${n % 20}`), { recursive: true });
    writeFileSync(join(root, pathOf(n)), 'jpeg');
  }
  const file = join(dir, 'retention.yaml');
  writeFileSync(
    file,
    stringify({
      timezone: 'UTC',
      redis: REDIS_URL,
      state: DATABASE_URL,
      stateSchema,
      queuePrefix: schema,
      limits: { maxFraction: 1 },
      worker: { concurrency: 2 },
      stores: { app: { kind: 'postgres', url: DATABASE_URL }, photos: { kind: 'files', root } },
      rules: [
        {
          id: RULE_ID,
          source: 'fault suite: ID photos go 180 days after payment, with their files',
          store: 'app',
          table: `${schema}.id_photos`,
          anchor: 'paid_at',
          retain: 'P180D',
          action: 'delete',
          schedule: 'manual',
          batchSize: BATCH_SIZE,
          cascade: [{ store: 'photos', path: '{file_path}' }],
        },
      ],
    }),
  );
  return file;
}

function startWorker(name: string, configFile: string): RetentionProcess {
  const process = RetentionProcess.start(['worker', '--config', configFile], { name, logDir: dir });
  processes.push(process);
  return process;
}

/** A sweep queued exactly as `run` queues one (trigger row, then the product's enqueueSweep); only workers sweep. */
async function trigger(configFile: string): Promise<void> {
  const config = loadConfig(configFile, process.env, STORE_KINDS);
  const rule = config.rules.find((r) => r.id === RULE_ID)!;
  const jobId = `cascade-fault-${randomUUID()}`;
  const triggerId = randomUUID();
  const state = stateDb({ pool, url: DATABASE_URL, origin: 'fault suite' }, stateSchema);
  await insertTrigger(pool, state, { id: triggerId, jobId, actor: 'fault-suite', ruleId: rule.id, ruleHash: rule.hash, dryRun: false, confirmToken: null });
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const queue = openQueue(connection, schema);
  try {
    await enqueueSweep(queue, { trigger: 'manual', triggerId }, jobId);
  } finally {
    await queue.close();
    connection.disconnect();
  }
}

const outbox = () => `"${stateSchema}".cascade_outbox`;

/**
 * Gates (BatchGate: a statement trigger that waits on a lock the harness holds) in front of
 * the photo table's DELETE (a batch's change) and the outbox's DELETE (a drain's last step
 * before COMMIT: its files are deleted, its entries not yet removed). Both start closed.
 */
async function installGates(): Promise<{ batches: BatchGate; drains: BatchGate }> {
  const at = (schemaName: string, name: string): FaultTable => ({ schema: schemaName, name, qualified: `"${schemaName}"."${name}"`, snapshot: '', rows: 0 });
  const batches = await BatchGate.install(pool, DATABASE_URL, at(schema, 'id_photos'));
  const drains = await BatchGate.install(pool, DATABASE_URL, at(stateSchema, 'cascade_outbox'));
  gates.push(batches, drains);
  await batches.close();
  await drains.close();
  return { batches, drains };
}

async function outboxSize(): Promise<number> {
  return Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${outbox()}`)).rows[0]!.n);
}

async function batchesDone(): Promise<{ done: number; total: number; status: string | null }> {
  const exists = (await pool.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [`"${stateSchema}".sweeps`])).rows[0]!.t;
  if (!exists) return { done: 0, total: 0, status: null };
  const { rows } = await pool.query<{ done: number; total: number; status: string }>(`SELECT batches_done AS done, batches_total AS total, status FROM "${stateSchema}".sweeps`);
  return rows[0] ?? { done: 0, total: 0, status: null };
}

/** Files under the root now (relative paths). */
function filesNow(): Set<string> {
  return new Set((readdirSync(root, { recursive: true }) as string[]).filter((p) => p.endsWith('.jpg')));
}

/**
 * No early delete: every row still in the table has its file. Files are listed first:
 * a row present afterwards was present then, so its file must have been there.
 */
async function earlyDeletes(): Promise<string[]> {
  const files = filesNow();
  const { rows } = await pool.query<{ file_path: string }>(`SELECT file_path FROM "${schema}".id_photos`);
  return rows.map((r) => r.file_path).filter((p) => !files.has(p));
}

/** Entries whose row is gone and whose file is still there: the window the kills must hit. */
async function queuedWithFile(): Promise<number> {
  const { rows } = await pool.query<{ path: string }>(`SELECT path FROM ${outbox()}`);
  return rows.filter((r) => existsSync(join(root, r.path))).length;
}

describe('SIGKILL between the row commit and the object deletions', () => {
  it(
    'workers killed while rows commit and while drains hold deleted files leave no orphan and no early delete',
    async () => {
      const configFile = await setup();
      const expired = Array.from({ length: ROWS }, (_, i) => i + 1).filter(expiredId);
      const a = startWorker('worker-a', configFile);
      await a.waitForLog('worker started', START_TIMEOUT_MS);
      // The worker's startup check created the outbox: gate batches and drains.
      const gate = await installGates();
      await trigger(configFile);

      // Kill 1: a third of the batches committed (rows deleted, files queued; their drain
      // jobs wait behind the batch jobs) and both of worker-a's slots hold a batch at the
      // gate, uncommitted.
      const planned = await waitFor(async () => ((await batchesDone()).total > 0 ? batchesDone() : undefined), { what: 'the sweep to be planned', timeoutMs: WAIT_MS });
      await gate.batches.open();
      await waitFor(async () => (await batchesDone()).done >= Math.ceil(planned.total / 3), { what: 'a third of the batches', timeoutMs: WAIT_MS, intervalMs: 20 });
      await gate.batches.close();
      await waitFor(async () => (await gate.batches.waiting()).length >= 2, {
        what: "worker-a's batches at the gate",
        timeoutMs: WAIT_MS,
        intervalMs: 20,
      });
      expect(await earlyDeletes(), 'files missing while their rows exist (kill 1)').toEqual([]);
      const atKill1 = { queued: await outboxSize(), withFile: await queuedWithFile(), progress: await batchesDone() };
      expect((await a.kill('SIGKILL')).signal).toBe('SIGKILL');
      const zombies = (await gate.drains.waiting()).length;

      // Kill 2: a new worker finishes the sweep (the killed batches come back when their
      // locks expire; the dead ones at the gate roll back once it opens); every expired row
      // is gone, its files queued or held by drains at the closed drain gate, which have
      // deleted their files and not committed. Eight slots: the batch jobs are queued before
      // any drain, so up to three drains (500 files each) hold at the gate once they are
      // done, plus one for each killed batch that comes back; a slot stays free for those.
      await gate.batches.open();
      const b = RetentionProcess.start(['worker', '--config', configFile, '--concurrency', '8'], { name: 'worker-b', logDir: dir });
      processes.push(b);
      await waitFor(
        async () => {
          if (!b.running) throw new Error(`worker-b exited:\n${b.describe()}`);
          return (await batchesDone()).status === 'done' && (await gate.drains.waiting()).length > zombies;
        },
        { what: 'the sweep to finish with drains of worker-b at the gate', timeoutMs: WAIT_MS, intervalMs: 50 },
      ).catch(async (error: unknown) => {
        const state = { progress: await batchesDone(), drainsAtGate: (await gate.drains.waiting()).length, zombies, batchesAtGate: (await gate.batches.waiting()).length, queued: await outboxSize() };
        throw new Error(`${(error as Error).message}: ${JSON.stringify(state)}\n${b.describe()}`);
      });
      expect(await earlyDeletes(), 'files missing while their rows exist (kill 2)').toEqual([]);
      const atKill2 = { queued: await outboxSize(), withFile: await queuedWithFile() };
      expect((await b.kill('SIGKILL')).signal).toBe('SIGKILL');

      // The kills landed in the window: rows committed, their objects not yet settled.
      expect(atKill1.progress.done, 'kill 1 landed mid-sweep').toBeLessThan(atKill1.progress.total);
      expect(atKill1.queued, 'entries waiting at kill 1').toBeGreaterThan(0);
      expect(atKill2.queued, 'entries waiting at kill 2').toBeGreaterThan(0);
      console.log(`cascade kills: kill 1 at ${atKill1.progress.done}/${atKill1.progress.total} batches, ${atKill1.queued} queued (${atKill1.withFile} files still there); kill 2: ${atKill2.queued} queued (${atKill2.withFile} files still there)`);

      // Open the drain gate: the dead workers' drains go on and roll back (their
      // connections are gone), leaving their entries for the next worker.
      await gate.drains.open();
      await waitFor(async () => (await gate.drains.waiting()).length === 0, { what: 'the killed drains to roll back', timeoutMs: 30_000 });
      const c = startWorker('worker-c', configFile);
      await waitFor(
        async () => {
          if (!c.running) throw new Error(`worker-c exited:\n${c.describe()}`);
          return (await outboxSize()) === 0;
        },
        { what: 'the outbox to drain', timeoutMs: WAIT_MS, intervalMs: 100 },
      );
      expect((await c.kill('SIGTERM')).code).toBe(0);

      // Exactly the unexpired rows and their files remain: no orphan, no early delete.
      const rows = (await pool.query<{ id: string }>(`SELECT id FROM "${schema}".id_photos ORDER BY id`)).rows.map((r) => Number(r.id));
      const kept = Array.from({ length: ROWS }, (_, i) => i + 1).filter((n) => !expiredId(n));
      expect(rows).toEqual(kept);
      expect([...filesNow()].sort()).toEqual(kept.map(pathOf).sort());

      // Each file audited once: deleted now, or found gone (deleted by a drain killed
      // before it committed, whose audit entry rolled back with it).
      const entries = (await pool.query<{ entry: SweepAuditEntry }>(`SELECT entry FROM "${stateSchema}".audit_log ORDER BY seq`)).rows.map((r) => r.entry);
      const batches = entries.filter((e) => e.event === 'batch');
      expect(batches.reduce((n, e) => n + e.rows, 0)).toBe(expired.length);
      expect(batches.reduce((n, e) => n + (e.objectsQueued?.photos ?? 0), 0)).toBe(expired.length);
      const drained = entries.filter((e) => e.event === 'cascade-drained');
      const sum = (k: 'deleted' | 'missing' | 'refused' | 'failed') => drained.reduce((n, e) => n + (e.objects?.photos?.[k] ?? 0), 0);
      expect(sum('deleted') + sum('missing')).toBe(expired.length);
      expect(sum('refused')).toBe(0);
    },
    FULL ? 600_000 : 240_000,
  );
});
