import { describe, expect, it } from 'vitest';
import { withoutToken } from '../../src/dashboard/dashboard-auth.js';
import { checkSession, dashboardToken, sameSecret, sessionValue } from '../../src/dashboard/dashboard-token.js';
import { UserError } from '../../src/errors.js';

const GOOD = 'a'.repeat(32);

function refusal(env: NodeJS.ProcessEnv): UserError {
  try {
    dashboardToken(env);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    return error as UserError;
  }
  throw new Error('accepted');
}

describe('the dashboard token', () => {
  it('is required, at least 32 characters, and sendable as a bearer token; each refusal names the variable, exit 2', () => {
    expect(refusal({}).message).toMatch(/^RETENTION_DASHBOARD_TOKEN is not set: .*at least 32 characters/);
    expect(refusal({ RETENTION_DASHBOARD_TOKEN: '' }).message).toMatch(/is not set/);
    expect(refusal({ RETENTION_DASHBOARD_TOKEN: 'a'.repeat(31) }).message).toMatch(/^RETENTION_DASHBOARD_TOKEN is 31 characters: .* at least 32/);
    expect(refusal({ RETENTION_DASHBOARD_TOKEN: `${GOOD}\n` }).message).toMatch(/characters a bearer token cannot carry/);
    expect(refusal({ RETENTION_DASHBOARD_TOKEN: `${GOOD} x` }).exitCode).toBe(2);
    expect(dashboardToken({ RETENTION_DASHBOARD_TOKEN: GOOD })).toBe(GOOD);
    // What `openssl rand -base64 32` prints passes.
    expect(dashboardToken({ RETENTION_DASHBOARD_TOKEN: 'q1w+e2r/t3y4u5i6o7p8a9s0d1f2g3h4j5k6l7z8x9c=' })).toHaveLength(44);
  });

  it('compares whole values only, whatever their lengths', () => {
    expect(sameSecret(GOOD, GOOD)).toBe(true);
    expect(sameSecret(GOOD.slice(0, -1), GOOD)).toBe(false);
    expect(sameSecret(`${GOOD}a`, GOOD)).toBe(false);
    expect(sameSecret('', GOOD)).toBe(false);
  });

  it('derives a session value that is not the token and changes with it', () => {
    const at = Date.parse('2026-03-01T10:00:00Z');
    expect(sessionValue(GOOD, at)).not.toContain(GOOD);
    expect(sessionValue(GOOD, at)).toBe(sessionValue(GOOD, at));
    expect(sessionValue(GOOD, at)).not.toBe(sessionValue('b'.repeat(32), at));
  });

  it('judges a session by the instant signed into it: refused 12 hours on, or with the instant changed', () => {
    const at = Date.parse('2026-03-01T10:00:00Z');
    const value = sessionValue(GOOD, at);
    const HOUR = 3_600_000;
    expect(checkSession(GOOD, value, at + 11 * HOUR, 12 * 3600)).toBe('ok');
    expect(checkSession(GOOD, value, at + 12 * HOUR, 12 * 3600)).toBe('expired');
    // Issued "in the future" (a forged or replayed clock) is not a way to live longer.
    expect(checkSession(GOOD, value, at - HOUR, 12 * 3600)).toBe('expired');
    expect(checkSession('b'.repeat(32), value, at, 12 * 3600)).toBe('invalid');
    // Moving the issued instant forward breaks the signature.
    const [, mac] = value.split('.');
    expect(checkSession(GOOD, `${at / 1000 + 12 * 3600}.${mac}`, at + 12 * HOUR, 12 * 3600)).toBe('invalid');
    expect(checkSession(GOOD, 'AAAA', at, 12 * 3600)).toBe('invalid');
  });
});

describe('the redirect that drops ?token=', () => {
  it('keeps the path and the other parameters', () => {
    expect(withoutToken(`http://127.0.0.1:9465/?token=${GOOD}`)).toBe('/');
    expect(withoutToken(`http://127.0.0.1:9465/queues/queue/sweeps?status=failed&token=${GOOD}&page=2`)).toBe('/queues/queue/sweeps?status=failed&page=2');
  });

  it('never leads to another site: a path starting with // or /\\ stays on this server', () => {
    expect(withoutToken(`http://127.0.0.1:9465//evil.example/x?token=${GOOD}`)).toBe('/evil.example/x');
    expect(withoutToken(`http://127.0.0.1:9465/%2F%2Fevil.example?token=${GOOD}`)).toBe('/%2F%2Fevil.example');
  });
});
