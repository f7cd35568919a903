/**
 * Vitest setup file (test/vitest.config.ts `setupFiles`): every `retention worker` a test
 * starts serves /metrics, /healthz and /readyz, on 127.0.0.1:9464 by default; tests run
 * several workers at once, so each gets a free port of its own (`RETENTION_HTTP_PORT=0`,
 * logged as "serving metrics and health") unless the environment already says otherwise.
 */
if (process.env.RETENTION_HTTP_PORT === undefined) process.env.RETENTION_HTTP_PORT = '0';
