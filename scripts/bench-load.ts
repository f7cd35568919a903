import { writeFileSync } from 'node:fs';
import pg from 'pg';
import { BENCH_SCHEMA } from './bench-data.js';

/**
 * The application, as a separate process: point reads by primary key and inserts on the
 * table being swept, at a steady rate, each latency recorded with the wall-clock time it
 * started. Runs until SIGTERM, then writes `[startedAtMs, latencyMs, kind]` rows to the
 * file given as the first argument (kind 0 = read, 1 = insert).
 *
 * Usage: bench-load.ts OUT_FILE DATABASE_URL MAX_ID CLIENTS OPS_PER_SECOND_PER_CLIENT
 */
const [out, url, maxIdText, clientsText, rateText] = process.argv.slice(2);
if (!out || !url || !maxIdText || !clientsText || !rateText) throw new Error('usage: bench-load.ts OUT DATABASE_URL MAX_ID CLIENTS RATE');
const maxId = Number(maxIdText);
const clients = Number(clientsText);
const interval = 1000 / Number(rateText);
/** One operation in five is an insert, like a login log: written once, read a few times. */
const INSERT_EVERY = 5;

const pool = new pg.Pool({ connectionString: url, max: clients, application_name: 'retention-bench-app' });
const samples: number[][] = [];
let running = true;
process.once('SIGTERM', () => (running = false));

let seed = 12345;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const read = `SELECT id, user_id, created_at, ip, email FROM ${BENCH_SCHEMA}.logs WHERE id = $1`;
const insert = `INSERT INTO ${BENCH_SCHEMA}.logs (id, user_id, created_at, ip, email, user_agent)
                VALUES (nextval('${BENCH_SCHEMA}.logs_ids'), $1, now(), '10.9.8.7', 'new@example.com', 'bench')`;

async function client(n: number): Promise<void> {
  const connection = await pool.connect();
  try {
    let next = performance.now() + n * (interval / clients);
    for (let op = n; running; op++) {
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      next += interval;
      const kind = op % INSERT_EVERY === 0 ? 1 : 0;
      const startedAt = Date.now();
      const t = performance.now();
      if (kind === 1) await connection.query(insert, [Math.floor(random() * 200_000)]);
      else await connection.query(read, [1 + Math.floor(random() * maxId)]);
      samples.push([startedAt, performance.now() - t, kind]);
    }
  } finally {
    connection.release();
  }
}

await Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
await pool.end();
writeFileSync(out, JSON.stringify(samples));
