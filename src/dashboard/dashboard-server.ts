import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { createAdaptorServer } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { UserError } from '../errors.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { redactText } from '../redact.js';
import { readOnly, requireToken, type SessionOptions } from './dashboard-auth.js';
import { DASHBOARD_CSS } from './dashboard-css.js';
import { QUEUES_PATH, securityHeaders } from './security-headers.js';

/** What the server serves; the page is rendered afresh per request (its data is cached by the caller). */
export interface DashboardServerOptions {
  host: string;
  port: number;
  /** The admin token every request must carry (src/dashboard/dashboard-token.ts). */
  token: string;
  /** The page's HTML. */
  page(): Promise<string>;
  /** The queue Bull Board shows, read-only. */
  queue: SweepQueue;
  /** The session cookie's settings (src/dashboard/dashboard-auth.ts). */
  session?: SessionOptions;
}

export interface DashboardServer {
  /** The address bound (the port the kernel chose when 0 was asked). */
  host: string;
  port: number;
  /** `http://HOST:PORT/`, the address to open (with `?token=` once). */
  url: string;
  close(): Promise<void>;
}

/** Where the stylesheet is served (a route, not a file: the build copies no assets). */
export const CSS_PATH = '/assets/dashboard.css';

/**
 * The dashboard as a Hono application. The order of the middleware is the guarantee:
 * security headers on every response; the token before anything else (a request without
 * it reaches no route: not the page, not Bull Board, not its scripts and styles); then
 * GET only; then the routes.
 */
export function dashboardApp(options: Pick<DashboardServerOptions, 'token' | 'page' | 'queue' | 'session'>): Hono {
  // Not strict: /queues/ is /queues (Bull Board's own links end in a slash).
  const app = new Hono({ strict: false });
  app.use('*', securityHeaders());
  app.use('*', requireToken(options.token, options.session));
  app.use('*', readOnly());
  app.get('/', async (c) => c.html(await options.page()));
  app.get(CSS_PATH, (c) => c.body(DASHBOARD_CSS, 200, { 'Content-Type': 'text/css; charset=utf-8' }));
  app.route(QUEUES_PATH, bullBoard(options.queue));
  app.notFound((c) => c.text('404: not found (the dashboard is at /, the queues at /queues)\n', 404));
  app.onError((error, c) => c.text(`500: ${redactText(error.message)}\n`, 500));
  return app;
}

/**
 * Bull Board over the queue, every queue read-only (no retry, clean, pause, add or remove
 * in its UI; its mutating API routes are refused anyway by `readOnly`, 405). Its UI files
 * are read from the installed @bull-board/ui package, wherever this module was bundled to.
 */
function bullBoard(queue: SweepQueue): Hono {
  const adapter = new HonoAdapter(serveStatic).setBasePath(QUEUES_PATH);
  const uiBasePath = dirname(createRequire(import.meta.url).resolve('@bull-board/ui/package.json'));
  createBullBoard({
    queues: [new BullMQAdapter(queue, { readOnlyMode: true, description: 'sweeps, batches, erasures and cascade drains' })],
    serverAdapter: adapter,
    options: { uiBasePath, uiConfig: { boardTitle: 'retention queues' } },
  });
  return adapter.registerPlugin();
}

/** Binds the dashboard on `host:port`; a port in use or a host that cannot be bound is a UserError naming it. */
export async function serveDashboard(options: DashboardServerOptions): Promise<DashboardServer> {
  const app = dashboardApp(options);
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // A client that connects and says nothing must not hold a socket for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(options, error)));
    server.listen({ host: options.host, port: options.port }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${shown}:${address.port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function listenError(options: DashboardServerOptions, error: NodeJS.ErrnoException): Error {
  const why =
    error.code === 'EADDRINUSE'
      ? 'the port is in use: choose another with --port, or 0 for any free port'
      : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
        ? 'this host has no such address'
        : error.code === 'EACCES'
          ? 'not allowed to bind that port (ports below 1024 need privileges)'
          : error.message;
  return new UserError(`dashboard: cannot listen on ${options.host}:${options.port}: ${why}`, { cause: error });
}
