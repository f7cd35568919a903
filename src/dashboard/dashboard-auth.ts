import { createHmac } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { checkSession, sameSecret, sessionValue } from './dashboard-token.js';

/** How long the session cookie `?token=` sets lasts: a working day; then the link with the token again. */
export const SESSION_SECONDS = 12 * 60 * 60;

/**
 * The admin token guards every route, Bull Board and static assets included. Accepted:
 * - `Authorization: Bearer TOKEN` (scripts, curl);
 * - `?token=TOKEN`, once: it sets an HttpOnly, SameSite=Strict session cookie and
 *   redirects to the same address without the token, so the token does not stay in the
 *   address bar, the history or a bookmark;
 * - that session cookie, for `SESSION_SECONDS` after it was issued, judged by the server
 *   from the signed instant it carries (not only by the browser's Max-Age).
 * Anything else, including a wrong token in any of the three, is 401 and reaches no route.
 * Comparisons take constant time (`sameSecret`).
 */
export interface SessionOptions {
  /**
   * Always mark the cookie `Secure` (the browser then sends it over HTTPS only). It is marked
   * anyway when the request came over TLS or through a proxy saying so (`X-Forwarded-Proto: https`).
   */
  secureCookie?: boolean;
  /** The clock sessions are issued and judged by (epoch ms); tests set it. */
  clock?: () => number;
}

export function requireToken(token: string, options: SessionOptions = {}): MiddlewareHandler {
  const clock = options.clock ?? Date.now;
  const cookie = sessionCookieName(token);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
      if (bearer && sameSecret(bearer[1]!, token)) return next();
      return refuse(c, 'the Authorization header does not carry the dashboard token');
    }
    const given = c.req.query('token');
    if (given !== undefined) {
      if (!sameSecret(given, token)) return refuse(c, 'wrong token');
      const secure = options.secureCookie === true || new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase() === 'https';
      setCookie(c, cookie, sessionValue(token, clock()), { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: SESSION_SECONDS, secure });
      return c.redirect(withoutToken(c.req.url), 303);
    }
    const held = getCookie(c, cookie);
    const session = held === undefined ? null : checkSession(token, held, clock(), SESSION_SECONDS);
    if (session === 'ok') return next();
    return refuse(c, session === null ? 'no token' : session === 'expired' ? 'the session has ended (12 hours after the token opened it)' : 'the session has ended (the token changed)');
  };
}

/**
 * One cookie name per token: two dashboards on one host (cookies are not kept apart by
 * port) each keep their own session instead of overwriting each other's.
 */
function sessionCookieName(token: string): string {
  return `retention_dashboard_${createHmac('sha256', token).update('cookie name', 'utf8').digest('hex').slice(0, 12)}`;
}

/**
 * The request's own path and query without `token`, as a path: never an absolute URL
 * built from the Host header, and never `//host/...` (which a browser reads as another
 * site), so the redirect cannot lead anywhere but this server.
 */
export function withoutToken(requestUrl: string): string {
  const url = new URL(requestUrl);
  url.searchParams.delete('token');
  const path = `/${url.pathname.replace(/^[/\\]+/, '')}`;
  return `${path}${url.search}`;
}

function refuse(c: Context, why: string): Response {
  c.header('WWW-Authenticate', 'Bearer realm="retention dashboard"');
  return c.text(
    `401: ${why}. The retention dashboard needs its admin token ($RETENTION_DASHBOARD_TOKEN): open /?token=TOKEN once, or send "Authorization: Bearer TOKEN".\n`,
    401,
  );
}

/** Read-only: every method but GET (and HEAD, which Hono answers as GET without a body) is 405. */
export function readOnly(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    c.header('Allow', 'GET, HEAD');
    return c.text('405: the dashboard is read-only (GET only)\n', 405);
  };
}
