import { isIP } from 'node:net';
import { UserError } from '../errors.js';
import type { Config } from '../policy/config.js';

/** Overrides `worker.http.host` (e.g. one value per container, without editing the file). */
export const HTTP_HOST_VARIABLE = 'RETENTION_HTTP_HOST';
/** Overrides `worker.http.port`: a port 0-65535 (0: any free port), or `off`. */
export const HTTP_PORT_VARIABLE = 'RETENTION_HTTP_PORT';

/** Where the worker's endpoints listen, and where that was said (for messages). */
export interface HttpSettings {
  host: string;
  port: number;
  /** "worker.http in FILE", or the variable that set it. */
  origin: string;
  /** False for anything but a loopback address: the endpoints are reachable from other hosts. */
  loopback: boolean;
}

/**
 * The worker's HTTP settings: the config's `worker.http`, with `RETENTION_HTTP_HOST` and
 * `RETENTION_HTTP_PORT` taking precedence. Null when the endpoints are off (`http: false`,
 * or `RETENTION_HTTP_PORT=off`). A malformed variable is a UserError naming it, before
 * anything starts.
 */
export function httpSettings(config: Pick<Config, 'file' | 'worker'>, env: NodeJS.ProcessEnv): HttpSettings | null {
  const fromFile = config.worker.http;
  const portText = env[HTTP_PORT_VARIABLE]?.trim();
  const hostText = env[HTTP_HOST_VARIABLE]?.trim();
  if (portText === 'off') return null;
  const port = portText ? parsePort(portText) : fromFile === false ? null : fromFile.port;
  if (port === null) return null;
  const host = hostText ? parseHost(hostText) : fromFile === false ? '127.0.0.1' : fromFile.host;
  const origins = [hostText ? `$${HTTP_HOST_VARIABLE}` : null, portText ? `$${HTTP_PORT_VARIABLE}` : null].filter((o) => o !== null);
  const origin = origins.length === 2 ? origins.join(' and ') : origins.length === 1 ? `worker.http in ${config.file}, ${origins[0]}` : `worker.http in ${config.file}`;
  return { host, port, origin, loopback: isLoopback(host) };
}

function parsePort(text: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 65_535)) throw new UserError(`${HTTP_PORT_VARIABLE}: ${JSON.stringify(text)} is not a port from 0 to 65535 (0: any free port) or off`);
  return port;
}

function parseHost(text: string): string {
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(text)) throw new UserError(`${HTTP_HOST_VARIABLE}: ${JSON.stringify(text)} is not a host to listen on (an address such as 127.0.0.1, ::1, 0.0.0.0, or a host name)`);
  return text;
}

/** 127.0.0.0/8, ::1 (also as an IPv4-mapped address) and localhost; 0.0.0.0 and :: are every interface. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^::ffff:127\./i.test(host) || /^(0{1,4}:){7}0{0,3}1$/.test(host);
  return false;
}
