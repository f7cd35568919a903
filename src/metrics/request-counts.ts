import { databaseNow } from '../state/database-now.js';
import { countRequests, type RequestCounts } from '../people/request-urgency.js';
import type { Runtime } from '../runtime/runtime.js';
import { listRequests } from '../state/requests.js';
import type { StateDb } from '../state/state-db.js';
import { CachedProbe } from './cached-probe.js';

const REQUESTS_TTL_MS = 15_000;
const REQUESTS_TIMEOUT_MS = 3_000;

/**
 * Open erasure requests and how many of them are due within `withinDays` days or overdue,
 * at the state database's clock, in the config's time zone (as `retention requests`
 * counts days left). Read on scrape, cached.
 */
export function requestCounts(runtime: Runtime, withinDays: number, state: StateDb = runtime.state): CachedProbe<RequestCounts> {
  return new CachedProbe(() => readRequestCounts(runtime, withinDays, state), { ttlMs: REQUESTS_TTL_MS, timeoutMs: REQUESTS_TIMEOUT_MS });
}

export async function readRequestCounts(runtime: Runtime, withinDays: number, state: StateDb = runtime.state): Promise<RequestCounts> {
  const { config } = runtime;
  const now = await databaseNow(state.db.pool);
  const open = await listRequests(state.db.pool, state, { open: true });
  return countRequests(open, now, config.timezone, withinDays);
}
