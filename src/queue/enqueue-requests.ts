import type { Runtime } from '../runtime/runtime.js';
import { listRequests } from '../state/requests.js';
import { enqueueErase, type SweepQueue } from './sweep-queue.js';

/** Rounds of the reconciler a request's fixed job id lasts: one pass per request per round. */
const ROUND_MS = 30_000;

/**
 * Queues a pass over every request not yet complete: those waiting (a hold released, a
 * store back up) resume by themselves, and those whose job Redis lost are found again.
 * Returns how many were queued.
 */
export async function enqueueOpenRequests(runtime: Runtime, queue: SweepQueue, now = Date.now()): Promise<number> {
  const open = await listRequests(runtime.state.db.pool, runtime.state, { open: true });
  const round = Math.floor(now / ROUND_MS);
  for (const request of open) await enqueueErase(queue, request.id, `erase-${request.id}-r${round}`);
  return open.length;
}
