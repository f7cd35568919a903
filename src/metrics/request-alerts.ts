import { databaseNow } from '../state/database-now.js';
import { DateTime } from 'luxon';
import type { Logger } from 'pino';
import { requestUrgency } from '../people/request-urgency.js';
import type { QueueConnection } from '../queue/redis-connection.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import type { Runtime } from '../runtime/runtime.js';
import { listRequests } from '../state/requests.js';
import { withTimeout } from './cached-probe.js';

/** How often the worker looks for pressing requests: well within a day, cheap (one query). */
export const REQUEST_ALERTS_EVERY_MS = 10 * 60_000;
/** Each day's claim outlives the day in any zone, then goes by itself. */
const CLAIM_TTL_SECONDS = 2 * 24 * 60 * 60;
/** The queue's connection waits for Redis to come back; a warning does not. */
const CLAIM_TIMEOUT_MS = 2_000;

/**
 * Warns about each open erasure request that is overdue, due within `withinDays` days, or
 * whose acknowledgement is overdue: at most once per request per calendar day (in the
 * config's zone), whichever worker sees it first. The day's claim is a Redis key under the
 * queue's prefix (`SET NX`, gone after two days); if Redis does not answer, this process
 * still remembers what it logged, so a request is warned about at most once a day per
 * worker then. Deadlines end at the end of a day, so a request cannot go from due soon to
 * overdue within one day and miss its warning.
 */
export class RequestAlerts {
  readonly #runtime: Runtime;
  readonly #queue: SweepQueue;
  readonly #log: Logger;
  readonly #withinDays: number;
  readonly #logged = new Set<string>();

  constructor(runtime: Runtime, queue: SweepQueue, log: Logger, withinDays: number) {
    this.#runtime = runtime;
    this.#queue = queue;
    this.#log = log;
    this.#withinDays = withinDays;
  }

  /** One look at the open requests; returns how many were warned about now. */
  async check(): Promise<number> {
    const { state, config } = this.#runtime;
    const now = await databaseNow(state.db.pool);
    const day = DateTime.fromJSDate(now, { zone: config.timezone }).toISODate()!;
    let warned = 0;
    for (const request of await listRequests(state.db.pool, state, { open: true })) {
      const { urgency, daysLeft, acknowledgementOverdue } = requestUrgency(request, now, config.timezone, this.#withinDays);
      if (urgency === 'open' && !acknowledgementOverdue) continue;
      const claim = `${request.id}:${day}`;
      if (this.#logged.has(claim) || !(await this.#claim(claim))) continue;
      this.#logged.add(claim);
      const fields = {
        request: request.id,
        status: request.status,
        dueAt: request.dueAt.toISOString(),
        daysLeft,
        ...(acknowledgementOverdue ? { acknowledgementOverdue: true, acknowledgeDueAt: request.acknowledgeDueAt?.toISOString() } : {}),
      };
      const message =
        urgency === 'overdue'
          ? 'erasure request overdue'
          : urgency === 'due-soon'
            ? `erasure request due within ${this.#withinDays} days`
            : 'erasure request acknowledgement overdue';
      this.#log.warn(fields, message);
      warned++;
    }
    // Yesterday's claims are of no use any more.
    for (const claim of this.#logged) if (!claim.endsWith(`:${day}`)) this.#logged.delete(claim);
    return warned;
  }

  /** True when no worker has warned about this request today. Redis not answering: true (better twice than never). */
  async #claim(claim: string): Promise<boolean> {
    const set = async () => {
      const client = (await this.#queue.client) as unknown as QueueConnection;
      return (await client.set(this.#queue.toKey(`request-alert:${claim}`), '1', 'EX', CLAIM_TTL_SECONDS, 'NX')) === 'OK';
    };
    const claimed = await withTimeout(set().catch(() => true), CLAIM_TIMEOUT_MS);
    return claimed ?? true;
  }
}
