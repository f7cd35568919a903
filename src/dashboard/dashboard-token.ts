import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { UserError } from '../errors.js';

/** The environment variable that holds the dashboard's admin token. */
export const DASHBOARD_TOKEN_VARIABLE = 'RETENTION_DASHBOARD_TOKEN';

/** Shorter tokens are refused: anyone who guesses it reads every rule, request and hold. */
export const MIN_DASHBOARD_TOKEN_CHARS = 32;

/**
 * The characters of a bearer token (RFC 6750 `b64token`): what `openssl rand -hex 32` and
 * `openssl rand -base64 32` print. Anything else (a space, a newline pasted from a file)
 * could not be sent in a header as given.
 */
const TOKEN_PATTERN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The dashboard token from the environment, or a UserError (exit 2) naming the variable,
 * before anything is opened or bound.
 */
export function dashboardToken(env: NodeJS.ProcessEnv): string {
  const token = env[DASHBOARD_TOKEN_VARIABLE];
  const make = `e.g. ${DASHBOARD_TOKEN_VARIABLE}=$(openssl rand -hex 32)`;
  if (!token) throw new UserError(`${DASHBOARD_TOKEN_VARIABLE} is not set: the dashboard serves only to holders of that admin token (at least ${MIN_DASHBOARD_TOKEN_CHARS} characters; ${make})`);
  if (token.length < MIN_DASHBOARD_TOKEN_CHARS) {
    throw new UserError(`${DASHBOARD_TOKEN_VARIABLE} is ${token.length} characters: the dashboard's admin token needs at least ${MIN_DASHBOARD_TOKEN_CHARS} (${make})`);
  }
  if (!TOKEN_PATTERN.test(token)) {
    throw new UserError(`${DASHBOARD_TOKEN_VARIABLE} holds characters a bearer token cannot carry (spaces, line breaks, ...): use letters, digits and - . _ ~ + / = only (${make})`);
  }
  return token;
}

/**
 * Whether `given` is `expected`, in time that does not depend on where they differ nor on
 * `given`'s length: both are hashed to 32 bytes first, and those compared with
 * `timingSafeEqual` (which itself needs equal lengths and would tell the length apart).
 */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The value of the session cookie `?token=` sets: when it was issued (whole seconds) and an
 * HMAC of that under the token. Not the token itself (the browser stores the cookie and sends
 * it with every request); changing the token ends every session; and the server judges the
 * age from the signed instant, so a copied cookie stops working after `maxAgeSeconds`
 * whatever the browser does with Max-Age.
 */
export function sessionValue(token: string, issuedAtMs: number): string {
  const issued = Math.floor(issuedAtMs / 1_000);
  return `${issued}.${sessionMac(token, issued)}`;
}

/** A clock a little ahead on the issuing side is tolerated, no more. */
const FUTURE_SKEW_SECONDS = 60;

/**
 * Whether `value` is a session this token issued less than `maxAgeSeconds` before `nowMs`:
 * `ok`, `expired` (signed, but too old, or issued in the future), or `invalid`.
 */
export function checkSession(token: string, value: string, nowMs: number, maxAgeSeconds: number): 'ok' | 'expired' | 'invalid' {
  const match = /^(\d{1,12})\.([A-Za-z0-9_-]{1,100})$/.exec(value);
  if (!match) return 'invalid';
  const issued = Number(match[1]);
  if (!sameSecret(match[2]!, sessionMac(token, issued))) return 'invalid';
  const age = Math.floor(nowMs / 1_000) - issued;
  return age >= -FUTURE_SKEW_SECONDS && age < maxAgeSeconds ? 'ok' : 'expired';
}

function sessionMac(token: string, issuedSeconds: number): string {
  return createHmac('sha256', token).update(`retention dashboard session v2\n${issuedSeconds}`, 'utf8').digest('base64url');
}
