import type pg from 'pg';
import type { Redis } from 'ioredis';

/**
 * The benchmark's data: a login-log table and a session keyspace, generated
 * deterministically so every contender starts from identical data.
 */

/** Everything the benchmark creates lives here and is dropped at the end. */
export const BENCH_SCHEMA = 'retention_bench';
export const BENCH_STATE_SCHEMA = 'retention_bench_state';
export const BENCH_QUEUE_PREFIX = 'retention_bench';
/** Not under BENCH_QUEUE_PREFIX: a Redis store never sweeps keys under the queue's prefix. */
export const BENCH_KEY_PREFIX = 'retention_bench_session:';
export const SESSION_FIELD = 'seen_at';

/** Statements the sweeps run on the benchmark's tables (not the state schema's). */
export const BENCH_STATEMENTS = new RegExp(`^\\s*(DELETE FROM|UPDATE) "${BENCH_SCHEMA}"\\.`);

/** Retention of the benchmark's rules: the anchor spread below puts ~55% past it. */
export const RETAIN = 'P18M';
export const RETAIN_SQL = "interval '18 months'";
export const SESSION_RETAIN = 'P30D';


/**
 * A login log over six years of a growing service: ids in insertion order, anchors
 * mostly following them (row density growing linearly, jitter of +-2 days), 4% late
 * arrivals anywhere in the six years, 1% NULL anchors. About 55% are older than 18
 * months, nearly all in the lower ids, the rest scattered. No anchor lies within a day
 * of the cutoff, so the expired set does not change while the benchmark runs.
 */
export async function buildTemplate(pool: pg.Pool, name: string, rows: number): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.${name}`);
  await pool.query('SELECT setseed(0.42)');
  await pool.query(
    `CREATE TABLE ${BENCH_SCHEMA}.${name} AS
     WITH raw AS (
       SELECT g AS id, r,
              CASE WHEN r < 0.01 THEN NULL
                   WHEN r < 0.05 THEN now() - random() * interval '6 years'
                   ELSE least(now(), now() - (1 - sqrt(g::float8 / $1)) * interval '6 years' + (random() - 0.5) * interval '4 days')
              END AS anchor
         FROM (SELECT g, random() AS r FROM generate_series(1, $1::bigint) g) s
     )
     SELECT id,
            (hashtext(id::text) & 262143)::bigint AS user_id,
            CASE WHEN abs(extract(epoch FROM anchor - (now() - ${RETAIN_SQL}))) < 86400 THEN anchor - interval '2 days' ELSE anchor END AS created_at,
            ('10.' || (id % 256) || '.' || ((id / 256) % 256) || '.' || (id % 199))::inet AS ip,
            'user' || (id % 200000) || '@example.com' AS email,
            'Mozilla/5.0 (X11; Linux x86_64) build ' || (id % 1000) AS user_agent
       FROM raw ORDER BY id`,
    [rows],
  );
}

/**
 * A fresh copy of a template as the application would have it: primary key, an index on
 * the anchor, vacuumed and analyzed, then a checkpoint so no contender pays for another's
 * dirty pages or finds hint bits set by an earlier one.
 */
export async function restoreTable(pool: pg.Pool, template: string, table = 'logs'): Promise<void> {
  await pool.query(`DROP TABLE IF EXISTS ${BENCH_SCHEMA}.${table}`);
  await pool.query(`CREATE TABLE ${BENCH_SCHEMA}.${table} AS SELECT * FROM ${BENCH_SCHEMA}.${template}`);
  await pool.query(`ALTER TABLE ${BENCH_SCHEMA}.${table} ADD PRIMARY KEY (id)`);
  await pool.query(`CREATE INDEX ON ${BENCH_SCHEMA}.${table} (created_at)`);
  // The application's inserts (impact test) take ids above the template's.
  await pool.query(`CREATE SEQUENCE IF NOT EXISTS ${BENCH_SCHEMA}.${table}_ids START 100000000`);
  await pool.query(`VACUUM ANALYZE ${BENCH_SCHEMA}.${table}`);
  await pool.query('CHECKPOINT');
}

/** Rows an exact `anchor + retain <= now()` would take (the single statement's predicate). */
export async function expiredCount(pool: pg.Pool, table = 'logs'): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ${BENCH_SCHEMA}.${table} WHERE created_at + ${RETAIN_SQL} <= now()`,
  );
  return Number(rows[0]!.n);
}

/**
 * Creates sessions `from` .. `to - 1` inside Redis: sending a million HSETs from Node
 * would take longer than the sweeps being measured. Old sessions (even i) were last seen
 * 31..60 days ago, recent ones 0..29 days ago, spread by a multiplicative hash of i.
 */
const BUILD_SCRIPT = `
local prefix, field, now, day = ARGV[1], ARGV[2], tonumber(ARGV[3]), 86400000
for i = tonumber(ARGV[4]), tonumber(ARGV[5]) - 1 do
  local spread = ((i * 2654435761) % 4294967296) / 4294967296
  local age = spread * 29 * day
  if i % 2 == 0 then age = age + 31 * day end
  redis.call('HSET', prefix .. i, field, string.format('%d', math.floor(now - age + 0.5)), 'user', tostring(i % 50000), 'token', 't' .. ((i * 7919) % 1000003))
end
return 0
`;
/** Keys per script call: each call blocks Redis for a few tens of milliseconds. */
const BUILD_CHUNK = 20_000;

/**
 * `keys` session hashes, half of them past 30 days (`seen_at`, epoch ms), each with a user
 * id and a token like a real session. Deterministic given the time. Returns how many are
 * expired.
 */
export async function buildSessions(redis: Redis, keys: number): Promise<number> {
  await deleteSessions(redis);
  const now = String(Date.now());
  for (let from = 0; from < keys; from += BUILD_CHUNK) {
    await redis.eval(BUILD_SCRIPT, 0, BENCH_KEY_PREFIX, SESSION_FIELD, now, String(from), String(Math.min(keys, from + BUILD_CHUNK)));
  }
  return Math.ceil(keys / 2);
}

export async function deleteSessions(redis: Redis): Promise<void> {
  await deleteMatching(redis, `${BENCH_KEY_PREFIX}*`);
}

export async function deleteMatching(redis: Redis, pattern: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5_000);
    if (keys.length > 0) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== '0');
}
