import { randomUUID } from 'node:crypto';
import type { Rule } from '../policy/rule.js';
import type { StateDb } from '../state/state-db.js';
import { insertTrigger } from '../state/triggers.js';
import type { SweepJobData } from './job-data.js';

export interface ManualTriggerOptions {
  actor: string;
  dryRun: boolean;
  /** `--confirm TOKEN`: allows a sweep over the rule's limits up to the confirmed count. */
  confirm?: string;
}

/**
 * Records what an admin asked for (rule id and definition hash, actor, dry run,
 * confirmation) in the state database, and returns the job to queue for it: its id and a
 * payload that is only the trigger row's id. The worker reads the rest from the row.
 */
export async function recordManualTrigger(
  state: StateDb,
  rule: Rule,
  options: ManualTriggerOptions,
): Promise<{ jobId: string; data: SweepJobData }> {
  const id = randomUUID();
  const jobId = `run-${rule.id}-${id}`;
  await insertTrigger(state.db.pool, state, {
    id,
    jobId,
    actor: options.actor,
    ruleId: rule.id,
    ruleHash: rule.hash,
    dryRun: options.dryRun,
    confirmToken: options.confirm ?? null,
  });
  return { jobId, data: { trigger: 'manual', triggerId: id } };
}
