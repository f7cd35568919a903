import type { SqlClient } from './sql-client.js';
import type { StateDb } from './state-db.js';

/** A rule whose sweeps may have changed items since an instant, as `rulesSweptSince` finds it. */
export interface SweptRule {
  ruleId: string;
  /** Its sweeps that ended at or after the instant (done, or ended early after some batches). */
  sweeps: number;
  /** True when a sweep of the rule is running now (it may have done batches since). */
  running: boolean;
}

/**
 * The rules whose real (not dry) sweeps may have deleted or anonymized items at or after
 * `since`: a sweep that ended then (done; or superseded, failed or cancelled after some of
 * its batches had run), or one running now. A blocked sweep touched nothing. A sweep that
 * began before `since` and ended after it counts: its later batches changed items then.
 */
export async function rulesSweptSince(tx: SqlClient, state: StateDb, since: Date): Promise<SweptRule[]> {
  const { rows } = await tx.query<{ rule_id: string; sweeps: string; running: boolean }>(
    `SELECT rule_id, count(*) FILTER (WHERE status <> 'running') AS sweeps, bool_or(status = 'running') AS running
       FROM ${state.table('sweeps')}
      WHERE NOT dry_run
        AND (status = 'running' OR (finished_at >= $1 AND (status = 'done' OR (status <> 'blocked' AND batches_done > 0))))
      GROUP BY rule_id ORDER BY rule_id`,
    [since],
  );
  return rows.map((r) => ({ ruleId: r.rule_id, sweeps: Number(r.sweeps), running: r.running }));
}
