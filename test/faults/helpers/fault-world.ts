import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { onTestFailed } from 'vitest';
import { loadConfig } from '../../../src/policy/load-config.js';
import { enqueueSweep, openQueue, type SweepQueue } from '../../../src/queue/sweep-queue.js';
import { stateDb } from '../../../src/state/state-db.js';
import { insertTrigger } from '../../../src/state/triggers.js';
import { DATABASE_URL, REDIS_URL } from '../../helpers/test-env.js';
import { BatchGate } from './batch-gate.js';
import { createFaultTable, FAULT_RETAIN, FAULT_RULE_ID, FAULT_TIMEZONE, type FaultTable } from './fault-table.js';
import { RetentionProcess, type ExitStatus } from './retention-process.js';
import { GiveUp, waitFor } from './wait-for.js';
import { deleteKeysMatching } from '../../helpers/redis-keys.js';
import { STORE_KINDS } from '../../../src/stores/registry.js';

/** Batches each worker process runs at once (`worker.concurrency` in the world's config). */
export const WORKER_CONCURRENCY = 2;

export interface WorldOptions {
  rows: number;
  /** Rows per batch: small, so a sweep lasts long enough to be hit by a fault. */
  batchSize: number;
  /** Default: the machine's test database. A throwaway server's URL for restart scenarios. */
  databaseUrl?: string;
  /** Default: the machine's Redis, under a prefix of our own. */
  redisUrl?: string;
  /** The rule's schedule; default `manual` (sweeps start only when the scenario says). */
  schedule?: string;
}

export interface SweepRow {
  id: string;
  status: string;
  now: Date;
  dryRun: boolean;
  batchesTotal: number;
  batchesDone: number;
  rowsAffected: number;
}

/**
 * One scenario's private world: a data schema with the fault table, a state schema and a
 * BullMQ prefix of its own, a config file in a temp directory, and every process the
 * scenario starts. `cleanup` kills what is still running (by pid, only ours), drops the
 * schemas, deletes the queue keys and the temp directory, on success and on failure; on
 * failure it first prints the tails of the process logs. FAULTS_KEEP=1 keeps everything.
 */
export class FaultWorld {
  readonly id: string;
  readonly schema: string;
  readonly stateSchema: string;
  readonly prefix: string;
  readonly dir: string;
  readonly configFile: string;
  readonly databaseUrl: string;
  readonly redisUrl: string;
  readonly pool: pg.Pool;
  readonly table: FaultTable;
  readonly processes: RetentionProcess[] = [];
  #failed = false;
  #queueConnection: Redis | null = null;
  #openQueue: SweepQueue | null = null;
  #gate: BatchGate | null = null;

  private constructor(fields: {
    id: string;
    dir: string;
    databaseUrl: string;
    redisUrl: string;
    pool: pg.Pool;
    table: FaultTable;
    options: WorldOptions;
  }) {
    this.id = fields.id;
    this.schema = `flt_${fields.id}`;
    this.stateSchema = `flt_${fields.id}_state`;
    this.prefix = `flt_${fields.id}`;
    this.dir = fields.dir;
    this.databaseUrl = fields.databaseUrl;
    this.redisUrl = fields.redisUrl;
    this.pool = fields.pool;
    this.table = fields.table;
    this.configFile = join(this.dir, 'retention.yaml');
    writeFileSync(this.configFile, this.#configYaml(fields.options));
  }

  static async create(options: WorldOptions): Promise<FaultWorld> {
    const id = randomBytes(4).toString('hex');
    const databaseUrl = options.databaseUrl ?? DATABASE_URL;
    const dir = mkdtempSync(join(tmpdir(), `retention-faults-${id}-`));
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 5_000 });
    // The throwaway database restarts under this pool: idle clients die, the next query reconnects.
    pool.on('error', () => undefined);
    try {
      const table = await createFaultTable(pool, `flt_${id}`, options.rows);
      const world = new FaultWorld({ id, dir, databaseUrl, redisUrl: options.redisUrl ?? REDIS_URL, pool, table, options });
      try {
        onTestFailed(() => {
          world.#failed = true;
        });
      } catch {
        // outside a test: the caller reports failure through cleanup({ failed })
      }
      return world;
    } catch (error) {
      await pool.query(`DROP SCHEMA IF EXISTS "flt_${id}" CASCADE`).catch(() => undefined);
      await pool.end().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Puts a gate in front of the table's DELETEs (see BatchGate), open; the scenario closes
   * and opens it. Cleanup opens it for good before anything is dropped.
   */
  async batchGate(): Promise<BatchGate> {
    this.#gate ??= await BatchGate.install(this.pool, this.databaseUrl, this.table);
    return this.#gate;
  }

  /** `retention worker` as a service manager would start it. */
  startWorker(name: string): RetentionProcess {
    return this.#start(name, ['worker', '--config', this.configFile]);
  }

  /** `retention run --rule events-1y --json` as an admin would type it. */
  startRun(name: string): RetentionProcess {
    return this.#start(name, ['run', '--rule', FAULT_RULE_ID, '--json', '--actor', `fault-suite:${name}`, '--config', this.configFile]);
  }

  /** `retention audit verify`: its exit status and output. */
  async auditVerify(): Promise<ExitStatus & { output: string }> {
    const process = this.#start(`audit-verify-${this.processes.length}`, ['audit', 'verify', '--config', this.configFile]);
    const status = await process.finish(120_000);
    return { ...status, output: `${process.stdout()}${process.stderr()}`.trim() };
  }

  /**
   * Queues a sweep of the rule exactly as `run` does (its trigger row in the state
   * database, then the product's own enqueueSweep), without doing any of its work here:
   * only worker processes sweep. The state schema must exist (a worker has started).
   * Returns the job's id.
   */
  async trigger(): Promise<string> {
    const config = loadConfig(this.configFile, process.env, STORE_KINDS);
    const rule = config.rules.find((r) => r.id === FAULT_RULE_ID)!;
    const jobId = `fault-${FAULT_RULE_ID}-${randomUUID()}`;
    const triggerId = randomUUID();
    const state = stateDb({ pool: this.pool, url: this.databaseUrl, origin: 'fault suite' }, this.stateSchema);
    await insertTrigger(this.pool, state, { id: triggerId, jobId, actor: 'fault-suite', ruleId: rule.id, ruleHash: rule.hash, dryRun: false, confirmToken: null });
    await enqueueSweep(this.#queue(), { trigger: 'manual', triggerId }, jobId);
    return jobId;
  }

  /** The BullMQ state of a job ('waiting', 'active', 'completed', ... or 'unknown'). */
  async jobState(jobId: string): Promise<string> {
    return this.#queue().getJobState(jobId);
  }

  /** Ids of the job schedulers registered on this world's queue. */
  async schedulers(): Promise<string[]> {
    return (await this.#queue().getJobSchedulers(0, -1)).map((s) => s.key);
  }

  /** Every sweep of the rule recorded in the state schema, oldest first ([] before the first). */
  async sweeps(): Promise<SweepRow[]> {
    const exists = await this.pool.query(`SELECT to_regclass($1) AS t`, [`"${this.stateSchema}".sweeps`]);
    if (exists.rows[0]?.t === null) return [];
    const { rows } = await this.pool.query<{ id: string; status: string; now: Date; dry_run: boolean; batches_total: number; batches_done: number; rows_affected: string }>(
      `SELECT id, status, now, dry_run, batches_total, batches_done, rows_affected FROM "${this.stateSchema}".sweeps WHERE rule_id = $1 ORDER BY created_at, id`,
      [FAULT_RULE_ID],
    );
    return rows.map((r) => ({
      id: r.id,
      status: r.status,
      now: r.now,
      dryRun: r.dry_run,
      batchesTotal: Number(r.batches_total),
      batchesDone: Number(r.batches_done),
      rowsAffected: Number(r.rows_affected),
    }));
  }

  /** Batches done and total over the rule's sweeps; total 0 until a sweep is planned. */
  async progress(): Promise<{ done: number; total: number; sweeps: number }> {
    const sweeps = await this.sweeps();
    return {
      done: sweeps.reduce((n, s) => n + s.batchesDone, 0),
      total: sweeps.reduce((n, s) => n + s.batchesTotal, 0),
      sweeps: sweeps.length,
    };
  }

  /**
   * Waits until the first sweep is planned and at least `fraction` of its batches are done.
   * Fails at once when a process in `watch` exits: nothing would make progress then.
   */
  async waitForProgress(fraction: number, timeoutMs: number, watch: readonly RetentionProcess[] = []): Promise<{ done: number; total: number }> {
    return waitFor(
      async () => {
        this.#requireRunning(watch);
        const p = await this.progress();
        return p.total > 0 && p.done >= Math.ceil(p.total * fraction) ? p : undefined;
      },
      { what: `${Math.round(fraction * 100)}% of the sweep's batches`, timeoutMs, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${this.describeProcesses()}`);
    });
  }

  /** Waits until a sweep was recorded and none of the rule's sweeps is still running. */
  async waitForSweepsDone(timeoutMs: number, watch: readonly RetentionProcess[] = []): Promise<SweepRow[]> {
    return waitFor(
      async () => {
        this.#requireRunning(watch);
        const sweeps = await this.sweeps();
        return sweeps.length > 0 && sweeps.every((s) => s.status !== 'running') ? sweeps : undefined;
      },
      { what: 'the sweep to finish', timeoutMs, intervalMs: 250 },
    ).catch(async (error: unknown) => {
      const progress = await this.progress().catch(() => null);
      throw new Error(`${(error as Error).message}; progress ${JSON.stringify(progress)}\n${this.describeProcesses()}`);
    });
  }

  /** SIGTERM every process still running (a graceful stop) and wait for them. */
  async stopAll(): Promise<void> {
    await Promise.all(this.processes.filter((p) => p.running).map((p) => p.kill('SIGTERM')));
  }

  describeProcesses(): string {
    return this.processes.map((p) => p.describe()).join('\n');
  }

  async cleanup(options: { failed?: boolean } = {}): Promise<void> {
    const failed = this.#failed || options.failed === true;
    await Promise.all(this.processes.filter((p) => p.running).map((p) => p.kill('SIGKILL')));
    // A closed gate would hold the batches of the processes just killed, and DROP SCHEMA.
    await this.#gate?.end();
    await this.#openQueue?.close().catch(() => undefined);
    this.#queueConnection?.disconnect();
    if (failed) console.error(`fault scenario ${this.id} failed; logs in ${this.dir}\n${this.describeProcesses()}`);
    if (process.env.FAULTS_KEEP === '1') {
      console.error(`FAULTS_KEEP=1: kept schemas ${this.schema}, ${this.stateSchema} (${this.databaseUrl}), prefix ${this.prefix} and ${this.dir}`);
      await this.pool.end().catch(() => undefined);
      return;
    }
    try {
      await deleteKeys(this.redisUrl, this.prefix);
      await this.pool.query(`DROP SCHEMA IF EXISTS "${this.schema}" CASCADE`).catch(() => undefined);
      await this.pool.query(`DROP SCHEMA IF EXISTS "${this.stateSchema}" CASCADE`).catch(() => undefined);
    } finally {
      await this.pool.end().catch(() => undefined);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The harness's own client of the world's queue, opened on first use, closed at cleanup. */
  #queue(): SweepQueue {
    if (!this.#openQueue) {
      this.#queueConnection = new Redis(this.redisUrl, { maxRetriesPerRequest: null });
      this.#queueConnection.on('error', () => undefined);
      this.#openQueue = openQueue(this.#queueConnection, this.prefix);
    }
    return this.#openQueue;
  }

  #requireRunning(watch: readonly RetentionProcess[]): void {
    const gone = watch.find((p) => !p.running);
    if (gone) throw new ProcessExitedError(`${gone.name} exited while the sweep was still running`);
  }

  #start(name: string, args: string[]): RetentionProcess {
    const process = RetentionProcess.start(args, { name, logDir: this.dir });
    this.processes.push(process);
    return process;
  }

  #configYaml(options: WorldOptions): string {
    return stringify({
      timezone: FAULT_TIMEZONE,
      redis: this.redisUrl,
      state: this.databaseUrl,
      stateSchema: this.stateSchema,
      queuePrefix: this.prefix,
      // The scenarios delete about a third of the table on purpose; the blast-radius
      // interlock is tested elsewhere.
      limits: { maxFraction: 1 },
      worker: { concurrency: WORKER_CONCURRENCY },
      stores: { app: { kind: 'postgres', url: this.databaseUrl } },
      rules: [
        {
          id: FAULT_RULE_ID,
          source: 'fault-injection suite: events are kept one year, held events until released',
          store: 'app',
          table: `${this.schema}.${this.table.name}`,
          anchor: 'created_at',
          retain: FAULT_RETAIN,
          action: 'delete',
          where: { held: false },
          schedule: options.schedule ?? 'manual',
          batchSize: options.batchSize,
        },
      ],
    });
  }
}

/** A process a wait depended on is gone: waiting longer cannot help. */
export class ProcessExitedError extends GiveUp {}

/** Deletes this world's BullMQ keys; quietly gives up when that Redis is gone. */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: 2_000 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await deleteKeysMatching(redis, `${prefix}:*`);
  } catch {
    // a throwaway Redis already stopped: nothing left to delete
  } finally {
    redis.disconnect();
  }
}
