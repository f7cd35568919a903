import type { Config } from '../policy/config.js';
import { openReadOnlyQueue } from '../queue/read-only-queue.js';
import { createRedis, type QueueConnection } from '../queue/redis-connection.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { redactUrl } from '../redact.js';
import type { QueueAccess } from '../report/status.js';
import type { Runtime } from '../runtime/runtime.js';
import { readDashboardData, readSlowDashboardData, type DashboardData, type SlowDashboardData } from './dashboard-data.js';
import { dashboardPage } from './dashboard-page.js';
import { serveDashboard, type DashboardServer } from './dashboard-server.js';
import { ReadingCache } from './reading-cache.js';

/** How long a reading waits for the queue's Redis to (re)connect before saying the queue cannot be read. */
const REDIS_WAIT_MS = 2_000;

/** How long one reading of the data serves every page load, and how often the page reloads itself. */
export const DEFAULT_REFRESH_SECONDS = 15;
/**
 * How long one reading of the costly parts serves: the forecast (a count per rule and week
 * in every store), the audit chain verified whole, the audit log scanned for incidents. They
 * change slowly, and reading them every 15 seconds would load the stores and the state
 * database for nothing.
 */
export const DEFAULT_SLOW_REFRESH_SECONDS = 5 * 60;
/** Weeks of forecast on the page: a quarter. */
export const DASHBOARD_FORECAST_WEEKS = 12;

export interface DashboardSettings {
  host: string;
  port: number;
  token: string;
  refreshSeconds?: number;
  /** How often the forecast and the audit verification are read again (default `DEFAULT_SLOW_REFRESH_SECONDS`). */
  slowRefreshSeconds?: number;
  /** Mark the session cookie `Secure` (see `requireToken`). */
  secureCookie?: boolean;
  /** The clock sessions are issued and judged by (epoch ms); tests set it. */
  clock?: () => number;
}

/** A running dashboard: its address, and `close` to stop serving and disconnect from Redis (the runtime is the caller's). */
export interface RunningDashboard extends DashboardServer {
  /** The data as last read (or read now if none is cached): what the page shows. */
  reading: ReadingCache<DashboardData>;
  /** The costly parts, read at most once per `slowRefreshSeconds`. */
  slowReading: ReadingCache<SlowDashboardData>;
}

/**
 * Serves the dashboard for `config` over an open runtime: the data read through one
 * shared cache (`ReadingCache`), the page rendered from it per request, and Bull Board
 * over the queue, opened read-only (BullMQ writes no meta to it). The queue's Redis may
 * be down at the start or go away later: the page then says the queue cannot be read, and
 * the next reading after it comes back shows it again.
 */
export async function startDashboard(runtime: Runtime, config: Config, settings: DashboardSettings): Promise<RunningDashboard> {
  const refreshSeconds = settings.refreshSeconds ?? DEFAULT_REFRESH_SECONDS;
  // One command's worth of waiting per call while Redis is away, then an error: a page must not hang.
  const connection = createRedis(config.redis, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const queue = openReadOnlyQueue(connection, config.queuePrefix);
  // A failed slow reading is tried again at the page's pace, not after five minutes.
  const slowReading = new ReadingCache(
    async () => readSlowDashboardData(runtime, DASHBOARD_FORECAST_WEEKS),
    (settings.slowRefreshSeconds ?? DEFAULT_SLOW_REFRESH_SECONDS) * 1_000,
    Date.now,
    refreshSeconds * 1_000,
  );
  const reading = new ReadingCache(async () => {
    const slow = await slowReading.get();
    // Never read: nothing to show. Read once and failed since: shown with its time and the error.
    if (slow.value === null) throw new Error(`the forecast and the audit chain could not be read: ${slow.error ?? 'not read yet'}`);
    return readDashboardData(runtime, await queueAccess(connection, queue, config), slow.value, { readAt: slow.readAt!, error: slow.error });
  }, refreshSeconds * 1_000);
  const context = { configFile: config.file, zone: config.timezone, refreshSeconds, slowRefreshSeconds: settings.slowRefreshSeconds ?? DEFAULT_SLOW_REFRESH_SECONDS };
  const server = await serveDashboard({
    host: settings.host,
    port: settings.port,
    token: settings.token,
    queue,
    session: { secureCookie: settings.secureCookie ?? false, ...(settings.clock ? { clock: settings.clock } : {}) },
    page: async () => dashboardPage(await reading.get(), context),
  }).catch(async (error: unknown) => {
    await queue.close().catch(() => undefined);
    connection.disconnect();
    throw error;
  });
  return {
    ...server,
    reading,
    slowReading,
    async close() {
      await server.close();
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}

/**
 * The queue, or why it cannot be read now. BullMQ waits for its connection to be ready
 * before any read, without end while Redis is down: so a reading gives Redis a moment to
 * connect (the first page after start, a reconnection under way), then reports it as
 * down, which the status report shows as "the queue cannot be read"; the rest of the
 * page stands. The connection keeps trying in the background: a later reading finds it back.
 */
async function queueAccess(connection: QueueConnection, queue: SweepQueue, config: Config): Promise<QueueAccess> {
  if (connection.status !== 'ready') {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, REDIS_WAIT_MS);
      function done() {
        clearTimeout(timer);
        connection.off('ready', done);
        resolve();
      }
      connection.once('ready', done);
    });
  }
  return connection.status === 'ready' ? { queue } : { error: `not connected to Redis at ${redactUrl(config.redis)} (${connection.status})` };
}
