import type { Logger } from 'pino';
import { errorKind, type ErrorKind } from '../executor/classify-error.js';
import { JOB_BATCH } from '../queue/queue-names.js';
import { redactText } from '../redact.js';

/** What the worker's `failed` event says of a job: enough to tell a retry from the last attempt. */
export interface FailedJob {
  name: string;
  id?: string | undefined;
  data: unknown;
  /** Attempts made, this one included (BullMQ counts it before emitting `failed`). */
  attemptsMade: number;
  opts: { attempts?: number | undefined };
}

/** One failed attempt of a job, judged. */
export interface JobFailure {
  job: string;
  id: string | undefined;
  /** The rule a scheduled sweep job names; batch jobs name their sweep only (in `id`). */
  rule: string | undefined;
  attempts: number;
  /** No attempt follows: its retries are used up, or the error is not worth retrying. */
  final: boolean;
  kind: ErrorKind;
  reason: string;
}

export function jobFailure(job: FailedJob, error: Error): JobFailure {
  const kind = errorKind(error);
  const data = (job.data ?? {}) as { ruleId?: unknown };
  return {
    job: job.name,
    id: job.id,
    rule: typeof data.ruleId === 'string' ? data.ruleId : undefined,
    attempts: job.attemptsMade,
    // As BullMQ decides (Job.shouldRetryJob): an UnrecoverableError, or the last attempt.
    final: error.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? 1),
    kind,
    reason: redactText(error.message),
  };
}

/**
 * Logs a failed job attempt once. A refused job, and the last attempt of any job but a
 * batch, are `error`: nothing else will report them. A batch's last attempt is `warn`: it
 * ends its sweep as failed, which is logged at `error` with the rule (src/metrics/sweep-
 * alerts.ts), once. An attempt that will be retried is `warn`.
 */
export function logJobFailure(log: Logger, failure: JobFailure): void {
  const { job, id, rule, attempts, final, kind, reason } = failure;
  const fields = { job, id, ...(rule ? { rule } : {}), attempts, final, kind, reason };
  if (kind === 'refused') log.error(fields, 'job refused');
  else if (final && job !== JOB_BATCH) log.error(fields, 'job failed');
  else log.warn(fields, 'job failed');
}
