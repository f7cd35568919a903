import { afterEach, describe, expect, it } from 'vitest';
import { serveWorkerHttp, type WorkerHttp } from '../../src/metrics/worker-http.js';

/** A failing endpoint's 500 body is served to whoever reaches the port: no URL password in it. */
let server: WorkerHttp | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('worker HTTP errors', () => {
  it('redacts connection URL passwords in a 500 body', async () => {
    server = await serveWorkerHttp(
      { host: '127.0.0.1', port: 0, origin: 'test', loopback: true },
      {
        metrics: async () => {
          throw new Error('connect ECONNREFUSED postgres://app:s3cret@db.internal:5432/app');
        },
        readiness: async () => ({ ready: true, notReady: {} }),
      },
    );
    const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    expect(response.status).toBe(500);
    const body = await response.text();
    expect(body).toContain('postgres://app:***@db.internal:5432/app');
    expect(body).not.toContain('s3cret');
  });
});
