import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { onTestFailed } from 'vitest';
import type { Config } from '../../src/policy/config.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { connectRuntime, openRuntime, type Runtime } from '../../src/runtime/runtime.js';
import { runSweeps, type RuleRunResult } from '../../src/queue/run-sweeps.js';
import type { Rule } from '../../src/policy/rule.js';
import { deleteKeysMatching } from './redis-keys.js';
import { TEST_AUDIT_KEY } from './audit-key-setup.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

export { TEST_AUDIT_KEY };

export const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** 32 bytes: the minimum `hmac` accepts. */
export const TEST_HMAC_KEY = 'test-hmac-key-0123456789abcdef-0123456789';

/**
 * One test's private world on the real services: a data schema, a state schema and a
 * BullMQ prefix of its own, so tests run in any order and in parallel. Everything is
 * dropped afterwards, except when the test failed: then the schemas stay for debugging
 * and their names are printed.
 */
export interface TestEnv {
  id: string;
  /** Schema for the test's application tables. */
  schema: string;
  stateSchema: string;
  prefix: string;
  /** Admin pool on the test database. */
  pool: pg.Pool;
  sql<R extends pg.QueryResultRow = Record<string, unknown>>(text: string, values?: unknown[]): Promise<R[]>;
  /**
   * A validated config for this env: `rules` as they would be written in YAML (table names
   * unqualified are put in the test schema). `extra` merges into the top level.
   */
  config(rules: Record<string, unknown>[], extra?: Record<string, unknown>): Config;
  /** The YAML text `config` would parse, for CLI tests that need a file. */
  configYaml(rules: Record<string, unknown>[], extra?: Record<string, unknown>): string;
  /** A connected runtime (state schema migrated), closed at cleanup. */
  runtime(config: Config): Promise<Runtime>;
  /** A Redis connection, closed at cleanup. */
  redis(): Redis;
  /** `retention run` for these rules, in-process; returns each rule's finished sweep. */
  run(config: Config, options?: { ruleIds?: string[]; dryRun?: boolean; concurrency?: number }): Promise<RuleRunResult[]>;
  cleanup(): Promise<void>;
}

export async function createTestEnv(): Promise<TestEnv> {
  const id = randomBytes(5).toString('hex');
  const schema = `t_${id}`;
  const stateSchema = `t_${id}_state`;
  const prefix = `t_${id}`;
  const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });
  await pool.query(`CREATE SCHEMA ${schema}`);
  const runtimes: Runtime[] = [];
  const redises: Redis[] = [];
  let failed = false;
  try {
    onTestFailed(() => {
      failed = true;
    });
  } catch {
    // outside a test (beforeAll): nothing to hook
  }

  const configYaml = (rules: Record<string, unknown>[], extra: Record<string, unknown> = {}) =>
    stringify({
      timezone: 'UTC',
      redis: REDIS_URL,
      state: DATABASE_URL,
      stateSchema,
      queuePrefix: prefix,
      stores: { app: { kind: 'postgres', url: DATABASE_URL } },
      // Most tests sweep most of a small table; the 20% default limit has its own tests.
      limits: { maxFraction: 1 },
      ...extra,
      rules: rules.map((r) => ({
        store: 'app',
        ...r,
        table: typeof r.table === 'string' && !r.table.includes('.') ? `${schema}.${r.table}` : r.table,
      })),
    });

  const env: TestEnv = {
    id,
    schema,
    stateSchema,
    prefix,
    pool,
    async sql(text, values) {
      return (await pool.query(text, values)).rows;
    },
    configYaml,
    config: (rules, extra) => parseConfig(configYaml(rules, extra), `test-${id}.yaml`, { RETENTION_HMAC_KEY: TEST_HMAC_KEY }, STORE_KINDS),
    async runtime(config) {
      const runtime = await openRuntime(config, { RETENTION_HMAC_KEY: TEST_HMAC_KEY, RETENTION_AUDIT_KEY: TEST_AUDIT_KEY });
      runtimes.push(runtime);
      await connectRuntime(runtime);
      return runtime;
    },
    redis() {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
      redises.push(redis);
      return redis;
    },
    async run(config, options = {}) {
      const runtime = await env.runtime(config);
      const rules: Rule[] = options.ruleIds ? config.rules.filter((r) => options.ruleIds!.includes(r.id)) : config.rules;
      const { swept, onHold } = await runSweeps(runtime, rules, {
        connection: env.redis(),
        dryRun: options.dryRun ?? false,
        actor: 'test',
        concurrency: options.concurrency ?? 2,
      });
      // Not silently fewer results: a test of held rules calls runSweeps itself.
      if (onHold.length > 0) throw new Error(`env.run: rules on legal hold started no sweep: ${onHold.map((h) => h.rule.id).join(', ')}`);
      return swept;
    },
    async cleanup() {
      await Promise.all(runtimes.map((r) => r.close()));
      const redis = new Redis(REDIS_URL);
      try {
        await deleteKeysMatching(redis, `${prefix}:*`);
      } finally {
        redis.disconnect();
        redises.forEach((r) => r.disconnect());
      }
      if (failed) {
        console.error(`test failed: kept schemas ${schema} and ${stateSchema} in ${DATABASE_URL} for debugging`);
      } else {
        await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
        await pool.query(`DROP SCHEMA IF EXISTS ${stateSchema} CASCADE`);
      }
      await pool.end();
    },
  };
  return env;
}
