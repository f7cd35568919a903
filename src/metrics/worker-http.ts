import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UserError } from '../errors.js';
import { redactText } from '../redact.js';
import type { HttpSettings } from './http-settings.js';
import type { Readiness } from './readiness.js';

/** What the endpoints serve; each call reads afresh (the readings cache themselves). */
export interface WorkerEndpoints {
  /** Prometheus exposition text, and its content type. */
  metrics(): Promise<{ contentType: string; text: string }>;
  readiness(): Promise<Readiness>;
}

/** The worker's HTTP listener, bound. */
export interface WorkerHttp {
  /** The address actually bound (the port the kernel chose when 0 was asked). */
  host: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves, read-only, on node:http:
 * - `GET /metrics`: Prometheus metrics (src/metrics/worker-metrics.ts);
 * - `GET /healthz`: 200 while the process runs (liveness);
 * - `GET /readyz`: 200 when Redis and the state database answer and the schedulers are
 *   registered; 503 with a JSON body naming what is not ready (src/metrics/readiness.ts).
 * Anything else is 404 (405 for another method). Resolves once bound; a port in use or a
 * host that cannot be bound is a UserError naming the setting.
 */
export async function serveWorkerHttp(settings: HttpSettings, endpoints: WorkerEndpoints): Promise<WorkerHttp> {
  const server = createServer((request, response) => {
    handle(request, response, endpoints).catch((error: unknown) => {
      // Served to whoever reaches the port: no password from a connection URL in it.
      if (!response.headersSent) send(response, 500, 'text/plain; charset=utf-8', `${redactText((error as Error)?.message ?? String(error))}\n`);
      else response.destroy();
    });
  });
  // A scraper that connects and says nothing must not hold a socket for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => reject(listenError(settings, error)));
    server.listen({ host: settings.host, port: settings.port }, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, endpoints: WorkerEndpoints): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  const known = path === '/metrics' || path === '/healthz' || path === '/readyz';
  if (!known) return send(response, 404, 'text/plain; charset=utf-8', 'not found: /metrics, /healthz, /readyz\n');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    return send(response, 405, 'text/plain; charset=utf-8', 'GET only\n');
  }
  if (path === '/healthz') return send(response, 200, 'application/json', `${JSON.stringify({ status: 'ok' })}\n`);
  if (path === '/readyz') {
    const readiness = await endpoints.readiness();
    return send(response, readiness.ready ? 200 : 503, 'application/json', `${JSON.stringify(readiness)}\n`);
  }
  const { contentType, text } = await endpoints.metrics();
  send(response, 200, contentType, text);
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}

function listenError(settings: HttpSettings, error: NodeJS.ErrnoException): Error {
  const where = `${settings.host}:${settings.port} (${settings.origin})`;
  const why =
    error.code === 'EADDRINUSE'
      ? 'the port is in use (another worker on this host?): give each worker its own port, or 0 for any free port'
      : error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND'
        ? 'this host has no such address'
        : error.code === 'EACCES'
          ? 'not allowed to bind that port (ports below 1024 need privileges)'
          : error.message;
  return new UserError(`cannot serve /metrics, /healthz and /readyz on ${where}: ${why}`, { cause: error });
}
