import type { StateDb } from './state-db.js';
import { findSweep, type SweepRecord } from './sweeps.js';

/** A rule's recent real sweeps (dry runs are left out: they keep no promise), as `retention status` shows them. */
export interface LatestSweeps {
  ruleId: string;
  /** The most recent sweep, in any status (running, done, blocked, failed, ...). */
  last: SweepRecord;
  /** The most recent sweep that ended done; null when none has. */
  lastDone: SweepRecord | null;
  /** Sweeps that ended early after `lastDone` (all of them when none is done), by status. */
  endedSinceDone: { failed: number; superseded: number; cancelled: number };
}

/**
 * Per rule id that has any real sweep: its latest sweep, its latest done one and how many
 * ended early since. One pass over the sweeps table, then each record by its id.
 */
export async function latestSweeps(state: StateDb): Promise<Map<string, LatestSweeps>> {
  const sweeps = state.table('sweeps');
  const { rows } = await state.db.pool.query<{ rule_id: string; last_id: string; done_id: string | null; failed: string; superseded: string; cancelled: string }>(
    `WITH real AS (SELECT id, rule_id, status, created_at FROM ${sweeps} WHERE NOT dry_run),
          last AS (SELECT DISTINCT ON (rule_id) rule_id, id FROM real ORDER BY rule_id, created_at DESC, id DESC),
          done AS (SELECT DISTINCT ON (rule_id) rule_id, id, created_at FROM real WHERE status = 'done' ORDER BY rule_id, created_at DESC, id DESC)
     SELECT l.rule_id, l.id AS last_id, d.id AS done_id,
            count(*) FILTER (WHERE r.status = 'failed') AS failed,
            count(*) FILTER (WHERE r.status = 'superseded') AS superseded,
            count(*) FILTER (WHERE r.status = 'cancelled') AS cancelled
       FROM last l
       LEFT JOIN done d ON d.rule_id = l.rule_id
       LEFT JOIN real r ON r.rule_id = l.rule_id AND r.status IN ('failed', 'superseded', 'cancelled')
                       AND (d.created_at IS NULL OR (r.created_at, r.id) > (d.created_at, d.id))
      GROUP BY l.rule_id, l.id, d.id`,
  );
  const found = new Map<string, LatestSweeps>();
  for (const row of rows) {
    const last = await findSweep(state, row.last_id);
    if (!last) continue;
    const lastDone = row.done_id === null ? null : row.done_id === row.last_id ? last : await findSweep(state, row.done_id);
    found.set(row.rule_id, {
      ruleId: row.rule_id,
      last,
      lastDone,
      endedSinceDone: { failed: Number(row.failed), superseded: Number(row.superseded), cancelled: Number(row.cancelled) },
    });
  }
  return found;
}
