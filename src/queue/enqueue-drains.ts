import { createHash } from 'node:crypto';
import type { Runtime } from '../runtime/runtime.js';
import { isObjectOutbox } from '../stores/owned-objects.js';
import { DRAIN_JOB_OPTIONS } from './job-options.js';
import { JOB_DRAIN } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

/** Periodic drains get one job id per window, so reconciling often queues one drain, not many. */
const WINDOW_MS = 30_000;

/**
 * A drain job's id: the store (hashed: a store name is free text) and what queued it, so
 * a retried batch queues its drain once.
 */
export function drainJobId(store: string, tag: string): string {
  return `d-${createHash('sha256').update(store).digest('hex').slice(0, 16)}-${tag}`;
}

/** Queues a drain of `store`'s cascade outbox (after a batch queued objects: tag `sweepId-idx`). */
export async function enqueueDrain(queue: SweepQueue, store: string, tag: string): Promise<void> {
  await queue.add(JOB_DRAIN, { store }, { ...DRAIN_JOB_OPTIONS, jobId: drainJobId(store, tag) });
}

/**
 * Queues a drain for every SQL store whose cascade outbox holds entries: the reconciler's
 * part, so entries whose drain job was lost (a worker killed right after its batch
 * committed, Redis restarted) are never left behind. Returns the stores queued.
 */
export async function enqueueDueDrains(runtime: Runtime, queue: SweepQueue, now = Date.now()): Promise<string[]> {
  const queued: string[] = [];
  for (const store of runtime.stores()) {
    if (!isObjectOutbox(store) || (await store.pendingObjects()) === 0) continue;
    await enqueueDrain(queue, store.name, `r${Math.floor(now / WINDOW_MS)}`);
    queued.push(store.name);
  }
  return queued;
}
