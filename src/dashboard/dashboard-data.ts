import { databaseNow } from '../state/database-now.js';
import { requestUrgency, type RequestUrgency } from '../people/request-urgency.js';
import { forecastRules, type Forecast } from '../report/forecast.js';
import { gatherStatus, readSlowStatusParts, type QueueAccess, type SlowStatusParts, type StatusReport } from '../report/status.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, type HoldRecord } from '../state/holds.js';
import { listRequests, type RequestRecord } from '../state/requests.js';

/** An open erasure request as the dashboard lists it: never its subject, only its id and deadlines. */
export interface DashboardRequest {
  request: RequestRecord;
  urgency: RequestUrgency;
}

/** Everything one page shows, read at one moment. */
export interface DashboardData {
  /** Rules, sweeps, blocked sweeps, lag, next runs, incidents, queue health, audit chain (src/report/status.ts). */
  status: StatusReport;
  /** Items each rule will remove in each coming week, from the state database's now (src/report/forecast.ts). */
  forecast: Forecast;
  /** Open requests (not completed), by deadline. */
  requests: DashboardRequest[];
  /** Holds in force, oldest first. */
  holds: HoldRecord[];
  /** A request due within this many days is "due soon" (the config's `worker.alerts.requestsDueWithinDays`). */
  dueWithinDays: number;
  /** When the forecast, the audit chain's verification and the incidents were read (epoch ms), and why their latest reading failed (null: it did not). */
  slow: { readAt: number; error: string | null };
}

/**
 * The dashboard's costly readings, read less often than the rest: the forecast (a count per
 * rule and week in every store), the audit chain verified whole, the audit log scanned for
 * never-store incidents.
 */
export interface SlowDashboardData {
  parts: SlowStatusParts;
  forecast: Forecast;
}

/** Reads `SlowDashboardData`, the forecast counted from the state database's clock; changes nothing. */
export async function readSlowDashboardData(runtime: Runtime, forecastWeeks: number): Promise<SlowDashboardData> {
  const now = await databaseNow(runtime.state.db.pool);
  const parts = await readSlowStatusParts(runtime);
  return { parts, forecast: await forecastRules(runtime, runtime.config.rules, now, forecastWeeks) };
}

/**
 * Reads the dashboard's data from the state database, the queue and the stores, through
 * the same reports `retention status` and `retention forecast` print. Changes nothing.
 */
export async function readDashboardData(runtime: Runtime, access: QueueAccess, slow: SlowDashboardData, slowReading: DashboardData['slow']): Promise<DashboardData> {
  const { state, config } = runtime;
  const status = await gatherStatus(runtime, access, slow.parts);
  // The forecast counts from its own reading's now (shown on the page), not the status's.
  const forecast = slow.forecast;
  const dueWithinDays = config.worker.alerts.requestsDueWithinDays;
  const open = await listRequests(state.db.pool, state, { open: true });
  const requests = open.map((request) => ({ request, urgency: requestUrgency(request, status.now, config.timezone, dueWithinDays) }));
  const holds = (await activeHolds(state.db.pool, state)).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  return { status, forecast, requests, holds, dueWithinDays, slow: slowReading };
}
