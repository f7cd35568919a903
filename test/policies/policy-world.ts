import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { spawnCli, type CliOutcome } from '../cli/cli-harness.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { DATABASE_URL, REDIS_URL, TEST_HMAC_KEY } from '../helpers/test-env.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * One seed policy's own world on the real services, to run its shipped file
 * (config/policies/<company>.yaml) unchanged: a PostgreSQL database of its own with
 * config/policies/<company>.sql loaded, a queue prefix and a state schema of its own, all
 * handed to the real CLI through the environment variables the file reads
 * (`DATABASE_URL`, `REDIS_URL`, `RETENTION_QUEUE_PREFIX`, `RETENTION_STATE_SCHEMA`, plus
 * the company's own). Everything is dropped afterwards: the world is built once per file
 * (beforeAll), where no test's failure can be told apart yet.
 */
export interface PolicyWorld {
  company: string;
  /** The shipped policy file, relative to the repository (as `--config` is given). */
  configFile: string;
  database: string;
  /** The database's URL: the file's `DATABASE_URL`. */
  url: string;
  /** The file's queue prefix; also a prefix of the world's own for other Redis keys. */
  prefix: string;
  stateSchema: string;
  /** Admin pool on the world's database. */
  db: pg.Pool;
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /** The ids left in a table, as strings, sorted as numbers. */
  ids(table: string): Promise<string[]>;
  /** `node scripts/retention.mjs ARGS --config <file>` with the world's environment. */
  cli(args: readonly string[]): Promise<CliOutcome>;
  /** Adds variables to the environment every later `cli` call gets. */
  setEnv(vars: Record<string, string>): void;
  /** Also deletes Redis keys matching these patterns at cleanup. */
  ownKeys(pattern: string): void;
  cleanup(): Promise<void>;
}

export async function createPolicyWorld(company: string): Promise<PolicyWorld> {
  const id = randomBytes(5).toString('hex');
  const database = `policy_${company}_${id}`;
  const prefix = `policy-${company}-${id}`;
  const stateSchema = `state_${id}`;
  const admin = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  // DROP DATABASE ... WITH (FORCE) ends connections still open to it; an idle pooled
  // client ended that way reports it on its pool, which must not crash the test process.
  admin.on('error', () => undefined);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  let db: pg.Pool | undefined;
  try {
    await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    db = new pg.Pool({ connectionString: url.toString(), max: 2 });
    db.on('error', () => undefined);
    // The shipped schema, as an operator loads it (one multi-statement text).
    await db.query(readFileSync(join(ROOT, `config/policies/${company}.sql`), 'utf8'));
  } catch (error) {
    // No world to clean up later: drop what was made here (the pool, the database, the
    // admin pool), then report the failure (a schema that does not load, a server down).
    await db?.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`).catch(() => undefined);
    await admin.end().catch(() => undefined);
    throw error;
  }
  const pool = db;

  const env: Record<string, string> = {
    DATABASE_URL: url.toString(),
    REDIS_URL,
    RETENTION_QUEUE_PREFIX: prefix,
    RETENTION_STATE_SCHEMA: stateSchema,
    RETENTION_HMAC_KEY: TEST_HMAC_KEY,
  };
  const patterns = [`${prefix}:*`];
  const configFile = `config/policies/${company}.yaml`;

  const world: PolicyWorld = {
    company,
    configFile,
    database,
    url: url.toString(),
    prefix,
    stateSchema,
    db: pool,
    async sql(text, values) {
      return (await pool.query(text, values)).rows;
    },
    async ids(table) {
      const rows = await world.sql<{ id: string }>(`SELECT id::text AS id FROM ${table}`);
      return rows.map((r) => r.id).sort((a, b) => Number(a) - Number(b));
    },
    cli: (args) => spawnCli([...args, '--config', configFile], env),
    setEnv(vars) {
      Object.assign(env, vars);
    },
    ownKeys(pattern) {
      patterns.push(pattern);
    },
    async cleanup() {
      await pool.end();
      const redis = new Redis(REDIS_URL);
      try {
        for (const pattern of patterns) await deleteKeysMatching(redis, pattern);
      } finally {
        redis.disconnect();
      }
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      await admin.end();
    },
  };
  return world;
}

/** `run --all --json` as the world's CLI prints it. */
export interface RunJson {
  rules: { id: string; action: string; affected: number; status: string; blocked?: { affected: number; total: number; reason: string; confirmToken: string } }[];
}

/**
 * `retention run --all`, then, for each rule its limits stopped, `run --rule ID --confirm
 * TOKEN` with the token the run printed, as an operator who reviewed it would (and as the
 * demo does). Returns every rule's outcome and which rules needed a confirmation. Fails on
 * any other exit.
 */
export async function runAllConfirming(world: PolicyWorld): Promise<{ rules: Map<string, RunJson['rules'][number]>; confirmed: string[] }> {
  const first = await world.cli(['run', '--all', '--json', '--actor', 'policy-test']);
  if (first.code !== 0 && first.code !== 3) throw new Error(`run --all exited ${first.code}: ${first.stderr}`);
  const result = JSON.parse(first.stdout) as RunJson;
  const rules = new Map(result.rules.map((r) => [r.id, r]));
  const confirmed: string[] = [];
  for (const rule of result.rules.filter((r) => r.blocked)) {
    const again = await world.cli(['run', '--rule', rule.id, '--confirm', rule.blocked!.confirmToken, '--json', '--actor', 'policy-test']);
    if (again.code !== 0) throw new Error(`run --rule ${rule.id} --confirm exited ${again.code}: ${again.stderr}`);
    rules.set(rule.id, (JSON.parse(again.stdout) as RunJson).rules[0]!);
    confirmed.push(rule.id);
  }
  if (first.code === 3 && confirmed.length === 0) throw new Error(`run --all exited 3 but reported no blocked rule: ${first.stderr}`);
  return { rules, confirmed };
}
