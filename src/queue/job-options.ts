import type { JobsOptions } from 'bullmq';

const SECOND = 1_000;
const DAY = 86_400 * SECOND;

/**
 * Retries cover transient trouble (a lock held past lock_timeout, a reconnecting
 * database); exponential backoff gives the application room. Finished jobs are kept for
 * a bounded time only: the audit log, not Redis, is the record.
 */
export const SWEEP_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2 * SECOND },
  removeOnComplete: { age: DAY, count: 10_000 },
  removeOnFail: { age: 7 * DAY },
};

/** Drains retry like batches; a drain that fails for good is redone by the next one the reconciler queues. */
export const DRAIN_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: SECOND },
  removeOnComplete: { age: DAY, count: 10_000 },
  removeOnFail: { age: 7 * DAY },
};

/**
 * One pass over a request. A pass that cannot finish leaves the request waiting and the
 * reconciler runs it again; a job that throws is retried a few times first. Removed when
 * done so the reconciler's fixed ids can be added again.
 */
export const ERASE_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2 * SECOND },
  removeOnComplete: true,
  removeOnFail: { age: 7 * DAY },
};

export const BATCH_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: SECOND },
  removeOnComplete: { age: DAY, count: 100_000 },
  removeOnFail: { age: 7 * DAY },
};
