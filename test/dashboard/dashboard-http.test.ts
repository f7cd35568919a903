import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PAGE_CSP, QUEUES_CSP } from '../../src/dashboard/security-headers.js';
import { startDashboard, type DashboardSettings, type RunningDashboard } from '../../src/dashboard/start-dashboard.js';
import type { Config } from '../../src/policy/config.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * The dashboard's HTTP surface on a real listener over a real state schema and queue
 * prefix: the token on every route (page, asset, Bull Board and its files and API),
 * the ?token= exchange for a cookie, GET only, the security headers, no CORS, escaping.
 */

const TOKEN = 'http-test-token-0123456789abcdef-0123456789';
const SOURCE = `Policy "7" <script>alert('x')</script> & <img src=x onerror=alert(1)>`;

let env: TestEnv;
let dashboard: RunningDashboard;

async function start(config: Config, refreshSeconds = 5, more: Partial<DashboardSettings> = {}): Promise<RunningDashboard> {
  dashboard = await startDashboard(await env.runtime(config), config, { host: '127.0.0.1', port: 0, token: TOKEN, refreshSeconds, ...more });
  return dashboard;
}

beforeEach(async () => {
  env = await createTestEnv();
  await env.sql(`CREATE TABLE ${env.schema}.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL)`);
  await env.sql(`INSERT INTO ${env.schema}.logs (at) SELECT now() - interval '3 days' FROM generate_series(1, 4)`);
});
afterEach(async () => {
  await dashboard?.close();
  await env.cleanup();
});

const rules = [{ id: 'logs', source: SOURCE, table: 'logs', anchor: 'at', retain: 'P1D', action: 'delete', schedule: 'manual' }];
const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => fetch(new URL(path, dashboard.url), { method, headers, redirect: 'manual' });
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

/** A GET with the path sent exactly as written (fetch would read `//host/` as another server). */
function rawGet(path: string): Promise<{ status: number; location: string | undefined }> {
  const { hostname, port } = new URL(dashboard.url);
  return new Promise((resolve, reject) => {
    request({ host: hostname, port, path, method: 'GET' }, (response) => {
      response.resume();
      resolve({ status: response.statusCode ?? 0, location: response.headers.location });
    })
      .on('error', reject)
      .end();
  });
}

/** A static file of Bull Board, read from its page (the names carry content hashes). */
async function boardAsset(): Promise<string> {
  const page = await (await get('/queues', bearer(TOKEN))).text();
  const script = /src="(static\/js\/[^"]+\.js)"/.exec(page);
  expect(script).not.toBeNull();
  return `/queues/${script![1]}`;
}

describe('retention dashboard over HTTP', () => {
  it('refuses every route without the token, and with a wrong one, in any of the three places: 401, and nothing of the page', async () => {
    await start(env.config(rules));
    const asset = await boardAsset();
    const paths = ['/', '/assets/dashboard.css', '/queues', '/queues/', asset, '/queues/api/queues', '/queues/static/favicon-32x32.png', '/no-such-page'];
    const wrong = `${TOKEN.slice(0, -1)}X`;
    for (const path of paths) {
      const refusals = [
        await get(path),
        await get(path, bearer(wrong)),
        await get(path, bearer(`${TOKEN}extra`)),
        await get(path, { Authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }),
        await get(`${path}?token=${wrong}`),
        await get(path, { Cookie: `retention_dashboard_0123456789ab=${TOKEN}` }),
        // A right token in the query does not excuse a wrong header.
        await get(`${path}?token=${TOKEN}`, bearer(wrong)),
      ];
      for (const response of refusals) {
        expect(response.status, path).toBe(401);
        expect(response.headers.get('www-authenticate')).toBe('Bearer realm="retention dashboard"');
        expect(response.headers.get('set-cookie')).toBeNull();
        const body = await response.text();
        expect(body).not.toContain('logs');
        expect(body).toMatch(/^401: /);
      }
      // With it, each is there (so a 401 above was the token, not a missing file).
      expect((await get(path, bearer(TOKEN))).status, path).toBe(path === '/no-such-page' ? 404 : 200);
    }
  });

  it('?token= once: an HttpOnly, SameSite=Strict cookie (not the token), a redirect without the token, and the cookie then opens every route', async () => {
    await start(env.config(rules));
    const exchange = await get(`/queues/queue/sweeps?status=failed&token=${TOKEN}`);
    expect(exchange.status).toBe(303);
    expect(exchange.headers.get('location')).toBe('/queues/queue/sweeps?status=failed');
    const cookie = exchange.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^retention_dashboard_[0-9a-f]{12}=\d+\.[\w-]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0]!;
    for (const path of ['/', '/assets/dashboard.css', '/queues', '/queues/api/queues']) {
      expect((await get(path, { Cookie: session })).status, path).toBe(200);
    }
    // A redirect to another site cannot be made of it.
    expect((await rawGet(`//evil.example/?token=${TOKEN}`)).location).toBe('/evil.example/');
    // A cookie of the same name with another value is refused.
    expect((await get('/', { Cookie: `${session.split('=')[0]}=AAAA` })).status).toBe(401);
  });

  it('a session cookie is refused 12 hours after it was issued, whatever the browser keeps; Secure when asked or behind an HTTPS proxy', async () => {
    let now = Date.parse('2026-03-01T10:00:00Z');
    await start(env.config(rules), 5, { clock: () => now });
    const exchange = await get(`/?token=${TOKEN}`);
    const session = exchange.headers.get('set-cookie')!.split(';')[0]!;
    expect(exchange.headers.get('set-cookie')).not.toContain('Secure');
    now += 11 * 3_600_000 + 59 * 60_000;
    expect((await get('/assets/dashboard.css', { Cookie: session })).status).toBe(200);
    now += 60_000;
    const expired = await get('/assets/dashboard.css', { Cookie: session });
    expect(expired.status).toBe(401);
    expect(await expired.text()).toContain('the session has ended (12 hours after the token opened it)');
    // Behind a TLS proxy that says so, the cookie is for HTTPS only.
    expect((await get(`/?token=${TOKEN}`, { 'X-Forwarded-Proto': 'https' })).headers.get('set-cookie')).toMatch(/; Secure(;|$)/);
    await dashboard.close();
    await start(env.config(rules), 5, { secureCookie: true });
    expect((await get(`/?token=${TOKEN}`)).headers.get('set-cookie')).toMatch(/; Secure(;|$)/);
  });

  it('reads the forecast and the audit chain at most once per their own, longer period; the rest at the page\'s', async () => {
    await start(env.config(rules), 1, { slowRefreshSeconds: 300 });
    const page = async () => (await get('/', bearer(TOKEN))).text();
    const first = await page();
    expect(first).toMatch(/forecast, audit chain and incidents read \S+ \S+, every 300s/);
    const slowAt = (await dashboard.slowReading.get()).readAt;
    const fastAt = (await dashboard.reading.get()).readAt;
    // A new audit entry and a new row: the quick part shows the sweep, the slow part waits its turn.
    expect((await env.run(env.config(rules))).length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const second = await page();
    expect((await dashboard.reading.get()).readAt).toBeGreaterThan(fastAt!);
    expect((await dashboard.slowReading.get()).readAt).toBe(slowAt);
    expect(second).toMatch(/data-field="last-sweep"><span class="pill ok">done/);
    // The audit count is the one verified at the slow reading: before the run's entries.
    expect(first).toContain('0 entries verified');
    expect(second).toContain('0 entries verified');
  });

  it('a manual rule with expired rows is never shown as all promises kept; swept, it is', async () => {
    await start(env.config(rules), 1, { slowRefreshSeconds: 1 });
    const page = await (await get('/', bearer(TOKEN))).text();
    expect(page).not.toContain('All promises kept.');
    expect(page).toContain('1 promise not shown to be kept');
    expect(page).toContain('expired items present (the oldest reached its end at');
    expect(page).toMatch(/data-field="lag"><span class="pill warn">[^<]+<\/span> <span class="sub">expired items present, manual rule: run it/);
    expect(page).toMatch(/data-field="state"><span class="pill warn">unknown/);
    expect((await env.run(env.config(rules))).length).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await (await get('/', bearer(TOKEN))).text()).toContain('All promises kept.');
  });

  it('is read-only: any method but GET and HEAD is 405 with the token (401 without), Bull Board\'s actions included', async () => {
    await start(env.config(rules));
    for (const [method, path] of [
      ['POST', '/'],
      ['PUT', '/queues/api/queues/pause'],
      ['PUT', '/queues/api/queues/sweeps/retry/failed'],
      ['DELETE', '/queues/api/queues/sweeps/obliterate'],
      ['PATCH', '/assets/dashboard.css'],
      ['OPTIONS', '/'],
    ] as const) {
      const denied = await get(path, bearer(TOKEN), method);
      expect(denied.status, `${method} ${path}`).toBe(405);
      expect(denied.headers.get('allow')).toBe('GET, HEAD');
      expect((await get(path, {}, method)).status).toBe(401);
    }
    const head = await get('/', bearer(TOKEN), 'HEAD');
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('sends the security headers on every response, a strict CSP on the page and no CORS header', async () => {
    await start(env.config(rules));
    const cases = [
      [await get('/', bearer(TOKEN)), PAGE_CSP],
      [await get('/'), PAGE_CSP],
      [await get('/assets/dashboard.css', bearer(TOKEN)), PAGE_CSP],
      [await get('/queues', bearer(TOKEN)), QUEUES_CSP],
      [await get(await boardAsset(), bearer(TOKEN)), QUEUES_CSP],
      [await get('/', { ...bearer(TOKEN), Origin: 'https://evil.example' }), PAGE_CSP],
    ] as const;
    for (const [response, csp] of cases) {
      expect(response.headers.get('content-security-policy')).toBe(csp);
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect([...response.headers.keys()].filter((k) => k.startsWith('access-control-'))).toEqual([]);
    }
    expect(PAGE_CSP).toContain("default-src 'none'");
    expect(PAGE_CSP).not.toContain('script-src');
    expect(PAGE_CSP).not.toContain('unsafe-inline');
    const page = await (await get('/', bearer(TOKEN))).text();
    // No script element, and no tag with an inline style or event handler (escaped text may say anything).
    expect(page).not.toMatch(/<script/i);
    expect(page).not.toMatch(/<[^>]*\s(style|on[a-z]+)=/i);
  });

  it('shows a rule source as text, escaped, never as markup', async () => {
    await start(env.config(rules));
    const page = await (await get('/', bearer(TOKEN))).text();
    expect(page).toContain('<td class="source" data-field="source">Policy &quot;7&quot; &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;</td>');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<img');
  });

  it('with its queue\'s Redis down, the page still comes, says the queue cannot be read, and does not hang', async () => {
    const config = env.config(rules, { redis: 'redis://127.0.0.1:1' });
    await start(config);
    const started = Date.now();
    const response = await get('/', bearer(TOKEN));
    expect(response.status).toBe(200);
    const page = await response.text();
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(page).toContain('data-rule="logs"');
    expect(page).toMatch(/the queue(&#39;|')s Redis cannot be read/);
  });

  it('a reading that fails: the page says it could not read, or shows the last reading marked stale, never as current', async () => {
    await start(env.config(rules), 1);
    const sweeps = `"${env.stateSchema}".sweeps`;
    const page = async () => (await get('/', bearer(TOKEN))).text();
    const pause = () => new Promise((resolve) => setTimeout(resolve, 1_100));
    // The state database stops answering for the sweeps table (as a lost table or a broken database would).
    await env.sql(`ALTER TABLE ${sweeps} RENAME TO sweeps_away`);
    try {
      const none = await page();
      expect(none).toContain('The dashboard could not read its data.');
      expect(none).toContain('sweeps&quot; does not exist');
      expect(none).not.toContain('data-rule="logs"');
    } finally {
      await env.sql(`ALTER TABLE "${env.stateSchema}".sweeps_away RENAME TO sweeps`);
    }
    await pause();
    const fresh = await page();
    expect(fresh).toContain('data-rule="logs"');
    expect(fresh).not.toContain('Stale');

    await env.sql(`ALTER TABLE ${sweeps} RENAME TO sweeps_away`);
    try {
      await pause();
      const stale = await page();
      expect(stale).toMatch(/Stale: the last refresh failed<\/strong>; showing what was read at \d{4}-/);
      expect(stale).toContain('data-rule="logs"');
    } finally {
      await env.sql(`ALTER TABLE "${env.stateSchema}".sweeps_away RENAME TO sweeps`);
    }
    await pause();
    expect(await page()).not.toContain('Stale');
  });
});
