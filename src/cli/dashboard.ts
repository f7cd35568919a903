import type { Command } from 'commander';
import { dashboardToken } from '../dashboard/dashboard-token.js';
import { startDashboard } from '../dashboard/start-dashboard.js';
import { UserError } from '../errors.js';
import { isLoopback } from '../metrics/http-settings.js';
import { onInterrupt } from './interrupt.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { withStateOnly } from './with-state.js';

interface DashboardOptions extends ConfigOption {
  host: string;
  port: string;
  secureCookie?: boolean;
}

/** Loopback only unless told otherwise: the page lists rules, requests and holds. */
export const DEFAULT_DASHBOARD_HOST = '127.0.0.1';
/** Beside the worker's metrics port (9464). */
export const DEFAULT_DASHBOARD_PORT = 9465;

/** `retention dashboard`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineDashboard(dashboard: Command): void {
  dashboard
    .option(...CONFIG_OPTION)
    .option('--host <address>', 'address to listen on; another than loopback makes the page reachable from other hosts', DEFAULT_DASHBOARD_HOST)
    .option('--port <n>', `port to listen on, 0 for any free one`, String(DEFAULT_DASHBOARD_PORT))
    .option('--secure-cookie', 'mark the session cookie Secure (HTTPS only): the default when --host is not loopback (behind a TLS proxy)')
    .action(async (options: DashboardOptions) => {
      // Checked before anything is opened or bound: each is a usage error that touches nothing.
      const token = dashboardToken(process.env);
      const port = parsePort(options.port);
      const host = parseHost(options.host);
      const config = readConfig(options);
      await withStateOnly(config, async (runtime) => {
        // Off loopback the page is meant to be reached through a TLS proxy: the cookie must
        // never travel over plain HTTP. On loopback (or an SSH tunnel) plain HTTP is the way in.
        const running = await startDashboard(runtime, config, { host, port, token, secureCookie: options.secureCookie === true || !isLoopback(host) });
        const interrupt = onInterrupt();
        try {
          // The address, never the token: this line ends up in logs.
          console.log(`dashboard: serving ${running.url} (open ${running.url}?token=... once with $RETENTION_DASHBOARD_TOKEN, or send "Authorization: Bearer ..."); Ctrl-C stops it`);
          if (!isLoopback(host)) {
            console.error(`retention: dashboard: listening on ${host}, reachable from other hosts; over plain HTTP the token and the page travel unencrypted: put it behind a TLS proxy`);
          }
          await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
        } finally {
          interrupt.dispose();
          await running.close();
        }
      });
    });
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new UserError(`--port: ${JSON.stringify(text)} is not a port from 0 to 65535 (0: any free port)`);
  return port;
}

function parseHost(text: string): string {
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(text)) throw new UserError(`--host: ${JSON.stringify(text)} is not an address to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0 or a host name)`);
  return text;
}
