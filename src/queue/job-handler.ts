import type { Job } from 'bullmq';
import type { Runtime } from '../runtime/runtime.js';
import type { SweepQueue } from './sweep-queue.js';

/** What a job handler in jobs/ receives besides its job. */
export interface JobDeps {
  runtime: Runtime;
  queue: SweepQueue;
  /**
   * The worker service: queues the rule's next expiry (src/queue/next-expiry-jobs.ts) after
   * every sweep that ends; other workers (`retention run`'s) only after scheduled sweeps.
   */
  nextExpiry?: boolean;
}

/** A file in jobs/ default-exports one of these; the file name is the job name. */
export type JobHandler = (job: Job, deps: JobDeps) => Promise<unknown>;
