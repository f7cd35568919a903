/** The one BullMQ queue: sweeps and their batches share it, so any worker can take either. */
export const QUEUE_NAME = 'sweeps';

export const JOB_SWEEP = 'sweep';
export const JOB_BATCH = 'batch';
/** jobs/erase.ts: one pass over an erasure request (the payload is its id, never the subject). */
export const JOB_ERASE = 'erase';
/** jobs/drain-cascades.ts: deletes the objects of rows a `cascade:` rule deleted. */
export const JOB_DRAIN = 'drain-cascades';

/** The job scheduler that sweeps a rule on its schedule. */
export function schedulerId(ruleId: string): string {
  return `rule-${ruleId}`;
}

/** Batch job ids are derived from the sweep and index, so enqueueing twice adds nothing. */
export function batchJobId(sweepId: string, idx: number): string {
  return `b-${sweepId}-${idx}`;
}
