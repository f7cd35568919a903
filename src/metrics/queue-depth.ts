import type { SweepQueue } from '../queue/sweep-queue.js';
import { CachedProbe } from './cached-probe.js';

/** The job states the queue-depth gauge reports. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

/** Fresh enough for a gauge, and several scrapers at once cost Redis one read. */
const QUEUE_TTL_MS = 5_000;
/**
 * The queue's connection waits for Redis to come back rather than fail a command (BullMQ
 * requires it), so a scrape while Redis is down would wait forever without this.
 */
const QUEUE_TIMEOUT_MS = 2_000;

/** Jobs in the queue by state (all workers' jobs: the queue is shared), read from BullMQ on scrape. */
export function queueDepth(queue: SweepQueue): CachedProbe<Record<QueueState, number>> {
  return new CachedProbe(
    async () => {
      const counts = await queue.getJobCounts(...QUEUE_STATES);
      return Object.fromEntries(QUEUE_STATES.map((s) => [s, counts[s] ?? 0])) as Record<QueueState, number>;
    },
    { ttlMs: QUEUE_TTL_MS, timeoutMs: QUEUE_TIMEOUT_MS },
  );
}
