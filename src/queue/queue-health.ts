import type { SweepQueue } from './sweep-queue.js';

/** The queue as `retention status` shows it: jobs by state, and the workers connected to it. */
export interface QueueHealth {
  /** Waiting to be taken (prioritized ones included). */
  waiting: number;
  active: number;
  /** Delayed: next-expiry sweeps, retries waiting out their backoff. */
  delayed: number;
  /** Failed jobs BullMQ still keeps (a batch that failed for good also ends its sweep as failed). */
  failed: number;
  /** Worker connections BullMQ lists for the queue (CLIENT LIST): 0 means nothing takes its jobs. */
  workers: number;
  /** Paused (BullMQ's `pause`, e.g. from another tool): no worker takes a job until it is resumed. */
  paused: boolean;
}

/** Reads the counts and the workers; changes nothing. */
export async function queueHealth(queue: SweepQueue): Promise<QueueHealth> {
  const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
  const workers = await queue.getWorkers();
  // A read of the queue's meta hash (HEXISTS), nothing written.
  const paused = await queue.isPaused();
  return {
    waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
    active: counts.active ?? 0,
    delayed: counts.delayed ?? 0,
    failed: counts.failed ?? 0,
    workers: workers.length,
    paused,
  };
}
