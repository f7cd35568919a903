import type pg from 'pg';
import { hmacPads } from '../src/anonymize/hmac.js';
import { BENCH_SCHEMA, RETAIN_SQL } from './bench-data.js';
import type { StatementTiming } from './bench-probe.js';

/**
 * What a user would write instead of this product: one statement from cron, or the
 * common loop of small deletes. Each runs on one connection, timed from the client.
 */
export interface BaselineResult {
  seconds: number;
  rows: number;
  timings: StatementTiming[];
}

const EXPIRED = `created_at + ${RETAIN_SQL} <= now()`;

/** `DELETE ... WHERE anchor + retain <= now()`: one statement, one transaction. */
export async function singleDelete(pool: pg.Pool): Promise<BaselineResult> {
  return timed(pool, [`DELETE FROM ${BENCH_SCHEMA}.logs WHERE ${EXPIRED}`]);
}

/**
 * The loop people write to avoid one huge transaction. The inner SELECT uses the same
 * index-friendly cutoff form (`anchor <= now() - retain`) a careful user would pick, so
 * the anchor index serves it.
 */
export async function limitLoop(pool: pg.Pool, limit = 10_000): Promise<BaselineResult> {
  const timings: StatementTiming[] = [];
  const text = `DELETE FROM ${BENCH_SCHEMA}.logs WHERE id IN (SELECT id FROM ${BENCH_SCHEMA}.logs WHERE created_at <= now() - ${RETAIN_SQL} LIMIT ${limit})`;
  const started = performance.now();
  let rows = 0;
  for (;;) {
    const t = performance.now();
    const result = await pool.query(text);
    const ms = performance.now() - t;
    timings.push({ verb: 'DELETE', ms, rows: result.rowCount ?? 0, transactionMs: ms });
    rows += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) === 0) break;
  }
  return { seconds: (performance.now() - started) / 1000, rows, timings };
}

/**
 * One UPDATE writing what the anonymize rule writes (HMAC-SHA256 of the email in SQL,
 * the /24 network of the IP, NULL user agent) to every expired row.
 */
export async function singleUpdate(pool: pg.Pool, hmacKey: string): Promise<BaselineResult> {
  const { inner, outer } = hmacPads(Buffer.from(hmacKey, 'utf8'));
  return timed(pool, [
    `UPDATE ${BENCH_SCHEMA}.logs
        SET email = encode(sha256($1::bytea || sha256($2::bytea || convert_to(email, 'UTF8'))), 'hex'),
            ip = network(set_masklen(ip, CASE WHEN family(ip) = 4 THEN 24 ELSE 48 END))::inet,
            user_agent = NULL
      WHERE ${EXPIRED}`,
    [outer, inner],
  ]);
}

async function timed(pool: pg.Pool, [text, values]: [string, unknown[]?]): Promise<BaselineResult> {
  const started = performance.now();
  const result = await pool.query(text, values);
  const ms = performance.now() - started;
  const rows = result.rowCount ?? 0;
  return { seconds: ms / 1000, rows, timings: [{ verb: text.trimStart().split(' ')[0]!, ms, rows, transactionMs: ms }] };
}
