import type { MiddlewareHandler } from 'hono';

/**
 * The dashboard page runs no script at all: its chart is server-rendered SVG and it
 * refreshes itself with `<meta http-equiv="refresh">`. Styles come from its own stylesheet.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Bull Board is a React application: its scripts and API calls are same-origin (no inline
 * script: its one inline `<script>` is JSON data, which a CSP does not run), but its page
 * carries inline `style` attributes and a `<style>` element, so styles need
 * 'unsafe-inline' there (and there only). Its Google Fonts link is refused: a page with
 * the product's queues makes no request to another site; the board falls back to local fonts.
 */
export const QUEUES_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The mount point of Bull Board. */
export const QUEUES_PATH = '/queues';

/**
 * Set on every response, the 401s and 405s included: no framing (clickjacking), no
 * referrer (a link out must not carry the address), no sniffing, no caching (the pages
 * show request ids and hold reasons), no opener, and same-origin resources only. No CORS
 * header is ever sent: another site's script cannot read a response.
 */
export function securityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const headers = c.res.headers;
    const queues = c.req.path === QUEUES_PATH || c.req.path.startsWith(`${QUEUES_PATH}/`);
    headers.set('Content-Security-Policy', queues ? QUEUES_CSP : PAGE_CSP);
    headers.set('X-Frame-Options', 'DENY');
    headers.set('Referrer-Policy', 'no-referrer');
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('Cache-Control', 'no-store');
    headers.set('Cross-Origin-Opener-Policy', 'same-origin');
    headers.set('Cross-Origin-Resource-Policy', 'same-origin');
    headers.delete('Access-Control-Allow-Origin');
  };
}
