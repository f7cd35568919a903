import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { stringify } from 'yaml';
import { loadConfig } from '../src/policy/load-config.js';
import { planSweep } from '../src/planner/plan-sweep.js';
import type { AnchorRange } from '../src/policy/expiry.js';
import { BENCH_SCHEMA, BENCH_STATE_SCHEMA, BENCH_QUEUE_PREFIX } from './bench-data.js';
import { BENCH_ENV, DATABASE_URL, REDIS_URL } from './bench-sweep.js';
import { STORE_KINDS } from '../src/stores/registry.js';

const run = promisify(execFile);

/** Tables the generated rules point at: a config with many rules names a few dozen tables. */
export const PLAN_TABLES = 20;
const PLAN_TABLE_ROWS = 5_000;

export async function createPlanTables(pool: pg.Pool): Promise<void> {
  for (let t = 0; t < PLAN_TABLES; t++) {
    await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.plan_${t}`);
    await pool.query(
      `CREATE TABLE ${BENCH_SCHEMA}.plan_${t} AS
       SELECT g AS id, now() - g * interval '1 hour' AS created_at,
              CASE WHEN g % 3 = 0 THEN now() - g * interval '30 minutes' END AS closed_at,
              'user' || g || '@example.com' AS email, g % 4 AS kind
         FROM generate_series(1, ${PLAN_TABLE_ROWS}) g`,
    );
    await pool.query(`ALTER TABLE ${BENCH_SCHEMA}.plan_${t} ADD PRIMARY KEY (id)`);
    await pool.query(`CREATE INDEX ON ${BENCH_SCHEMA}.plan_${t} (created_at)`);
    await pool.query(`ANALYZE ${BENCH_SCHEMA}.plan_${t}`);
  }
}

/**
 * The retention periods of a big company's policies: day counts, months, years and a few
 * odd ones. `plan` computes the expired ranges once per distinct period.
 */
export const RETENTIONS = [
  ...[1, 3, 7, 14, 30, 45, 60, 90, 120, 180, 270, 365, 400, 730].map((d) => `P${d}D`),
  ...[1, 2, 3, 4, 6, 9, 12, 13, 18, 24, 25, 36, 48, 60, 72, 84, 120].map((m) => `P${m}M`),
  ...[1, 2, 3, 5, 6, 7, 8, 10].map((y) => `P${y}Y`),
  'P2W', 'P1Y6M', 'P2Y6M', 'P1M15D', 'P3DT12H', 'P1DT1H',
];

/**
 * `count` rules over the plan tables, as varied as a big company's policy: the periods
 * above, filters on a fifth, anonymization on a quarter. With `distinct`, every rule gets
 * its own period instead (`P<30+i>D`): the planner's worst case.
 */
export function writePlanConfig(dir: string, count: number, timezone: string, distinct = false): string {
  const rules = Array.from({ length: count }, (_, i) => {
    const retain = distinct ? `P${30 + i}D` : RETENTIONS[i % RETENTIONS.length]!;
    const table = `${BENCH_SCHEMA}.plan_${i % PLAN_TABLES}`;
    const base = { id: `rule-${i}`, source: `generated rule ${i}`, store: 'app', table, anchor: i % 2 === 0 ? 'created_at' : 'closed_at', retain, schedule: 'manual' };
    const where = i % 5 === 0 ? { where: { kind: i % 4 } } : {};
    return i % 4 === 3 ? { ...base, ...where, action: 'anonymize', anonymize: { email: 'null' } } : { ...base, ...where, action: 'delete' };
  });
  const file = join(dir, `plan-${count}-${timezone.replace('/', '-')}${distinct ? '-distinct' : ''}.yaml`);
  writeFileSync(
    file,
    stringify({
      timezone,
      redis: REDIS_URL,
      state: DATABASE_URL,
      stateSchema: BENCH_STATE_SCHEMA,
      queuePrefix: BENCH_QUEUE_PREFIX,
      stores: { app: { kind: 'postgres', url: DATABASE_URL } },
      rules,
    }),
  );
  return file;
}

/** Wall time of `retention plan --json` as a user runs it, in its own process. */
export async function timePlanCli(file: string): Promise<{ seconds: number; rules: number }> {
  const started = performance.now();
  const { stdout } = await run(process.execPath, [join(import.meta.dirname, 'retention.mjs'), 'plan', '--config', file, '--json'], {
    env: BENCH_ENV,
    maxBuffer: 64 * 1024 * 1024,
  });
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rules: (JSON.parse(stdout) as { rules: unknown[] }).rules.length };
}

/** The planner alone (expired ranges per rule, cached per retention and zone as `plan` does). */
export function timePlanner(file: string): { ms: number; distinct: number } {
  const config = loadConfig(file, BENCH_ENV, STORE_KINDS);
  const now = new Date();
  const cache = new Map<string, AnchorRange[]>();
  const started = performance.now();
  for (const rule of config.rules) planSweep(rule, now, cache);
  return { ms: performance.now() - started, distinct: cache.size };
}
