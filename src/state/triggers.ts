import type pg from 'pg';
import type { StateDb } from './state-db.js';

/**
 * What an admin asked for with `retention run`, recorded in the state database before the
 * sweep job is queued. The job carries only the id: who asked, whether it is a dry run
 * and which confirmation it carries are read from here, so writing to Redis cannot forge
 * them.
 */
export interface TriggerRecord {
  id: string;
  /** The one queue job this trigger is for. */
  jobId: string;
  actor: string;
  ruleId: string;
  /** The rule's definition hash in the admin's config. */
  ruleHash: string;
  dryRun: boolean;
  confirmToken: string | null;
}

export async function insertTrigger(db: pg.Pool | pg.ClientBase, state: StateDb, trigger: TriggerRecord): Promise<void> {
  await db.query(
    `INSERT INTO ${state.table('triggers')} (id, job_id, actor, rule_id, rule_hash, dry_run, confirm_token) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [trigger.id, trigger.jobId, trigger.actor, trigger.ruleId, trigger.ruleHash, trigger.dryRun, trigger.confirmToken],
  );
}

export async function findTrigger(state: StateDb, id: string): Promise<TriggerRecord | null> {
  const { rows } = await state.db.pool.query<{
    id: string;
    job_id: string;
    actor: string;
    rule_id: string;
    rule_hash: string;
    dry_run: boolean;
    confirm_token: string | null;
  }>(`SELECT id, job_id, actor, rule_id, rule_hash, dry_run, confirm_token FROM ${state.table('triggers')} WHERE id = $1`, [id]);
  const row = rows[0];
  if (!row) return null;
  return { id: row.id, jobId: row.job_id, actor: row.actor, ruleId: row.rule_id, ruleHash: row.rule_hash, dryRun: row.dry_run, confirmToken: row.confirm_token };
}
