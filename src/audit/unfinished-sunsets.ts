import type { StateDb } from '../state/state-db.js';

/** An earlier sunset whose `sunset-started` entry has no `sunset-finished`: it crashed (or is running now). */
export interface UnfinishedSunset {
  sunsetId: string;
  /** Its `sunset-started` entry. */
  startedSeq: number;
  startedAt: string;
  /** The last entry it wrote: what the audit log holds of it ends there. */
  lastSeq: number;
}

/**
 * The sunsets the audit log shows started and never finished. A sunset changing a store
 * other than the state database records each batch just after the change, so one that
 * crashed in between changed data no entry describes; the next plan and execute name it,
 * so nobody reads the chain as the whole story. Read without an index on the event (the
 * log is keyed by seq only): a full scan, once per sunset plan or execute. Empty when the
 * state schema has no audit log yet.
 */
export async function unfinishedSunsets(state: StateDb): Promise<UnfinishedSunset[]> {
  const table = state.table('audit_log');
  const { rows: exists } = await state.db.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [table]);
  if (exists[0]!.t === null) return [];
  const { rows } = await state.db.pool.query<{ sunset_id: string; started_seq: string; started_at: Date; last_seq: string }>(unfinishedSunsetsSql(table));
  return rows.map((r) => ({ sunsetId: r.sunset_id, startedSeq: Number(r.started_seq), startedAt: r.started_at.toISOString(), lastSeq: Number(r.last_seq) }));
}

/** Pure: the query over `table` (an escaped, qualified name from `StateDb.table`). */
export function unfinishedSunsetsSql(table: string): string {
  return `SELECT entry->>'sunsetId' AS sunset_id,
            min(seq) FILTER (WHERE entry->>'event' = 'sunset-started') AS started_seq,
            min(at) FILTER (WHERE entry->>'event' = 'sunset-started') AS started_at,
            max(seq) AS last_seq
       FROM ${table}
      WHERE entry->>'trigger' = 'sunset' AND entry->>'sunsetId' IS NOT NULL
      GROUP BY entry->>'sunsetId'
     HAVING bool_or(entry->>'event' = 'sunset-started') AND NOT bool_or(entry->>'event' = 'sunset-finished')
      ORDER BY started_seq`;
}
