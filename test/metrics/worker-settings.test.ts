import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { spawnCli, tempDir, untouched } from '../cli/cli-harness.js';
import { httpSettings, isLoopback } from '../../src/metrics/http-settings.js';
import { logSettings } from '../../src/metrics/worker-log.js';
import { errorKind, isTransient } from '../../src/executor/classify-error.js';
import { jobFailure } from '../../src/metrics/job-failures.js';
import { requestUrgency } from '../../src/people/request-urgency.js';
import { ConfigError } from '../../src/errors.js';

/** The worker's observability settings: read from the config and the environment, and refused by name when wrong. */

const file = (http: unknown) => ({ file: 'retention.yaml', worker: { concurrency: 2, http, alerts: { requestsDueWithinDays: 7 } } }) as never;

describe('worker.http and its environment overrides', () => {
  it('serves on 127.0.0.1:9464 unless told otherwise, the variables winning over the file', () => {
    expect(httpSettings(file({ host: '127.0.0.1', port: 9464 }), {})).toEqual({ host: '127.0.0.1', port: 9464, origin: 'worker.http in retention.yaml', loopback: true });
    expect(httpSettings(file({ host: '127.0.0.1', port: 9464 }), { RETENTION_HTTP_PORT: '0' })).toMatchObject({ host: '127.0.0.1', port: 0, origin: 'worker.http in retention.yaml, $RETENTION_HTTP_PORT' });
    expect(httpSettings(file({ host: '127.0.0.1', port: 9464 }), { RETENTION_HTTP_HOST: '0.0.0.0' })).toMatchObject({ host: '0.0.0.0', port: 9464, loopback: false });
    expect(httpSettings(file(false), {})).toBeNull();
    expect(httpSettings(file({ host: '127.0.0.1', port: 9464 }), { RETENTION_HTTP_PORT: 'off' })).toBeNull();
    // The file said no endpoints; a port in the environment turns them on, on loopback.
    expect(httpSettings(file(false), { RETENTION_HTTP_PORT: '9500' })).toMatchObject({ host: '127.0.0.1', port: 9500 });
  });

  it('refuses a malformed variable by name', () => {
    for (const port of ['70000', '-1', '9464x']) {
      expect(() => httpSettings(file({ host: '127.0.0.1', port: 9464 }), { RETENTION_HTTP_PORT: port })).toThrow(`RETENTION_HTTP_PORT: "${port}" is not a port from 0 to 65535`);
    }
    expect(() => httpSettings(file({ host: '127.0.0.1', port: 9464 }), { RETENTION_HTTP_HOST: 'http://x' })).toThrow('RETENTION_HTTP_HOST: "http://x" is not a host to listen on');
  });

  it('tells loopback addresses from the others', () => {
    for (const host of ['127.0.0.1', '127.5.0.1', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'metrics.internal', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('is read from the config with its defaults, and a wrong value is refused at its path', async () => {
    const env = await createTestEnv();
    try {
      const plain = env.config([]);
      expect(plain.worker).toEqual({ concurrency: 2, http: { host: '127.0.0.1', port: 9464 }, alerts: { requestsDueWithinDays: 7 } });
      expect(env.config([], { worker: { concurrency: 3 } }).worker).toEqual({ concurrency: 3, http: { host: '127.0.0.1', port: 9464 }, alerts: { requestsDueWithinDays: 7 } });
      expect(env.config([], { worker: { http: false, alerts: { requestsDueWithinDays: 14 } } }).worker).toMatchObject({ http: false, alerts: { requestsDueWithinDays: 14 } });
      expect(env.config([], { worker: { http: { host: '0.0.0.0' } } }).worker.http).toEqual({ host: '0.0.0.0', port: 9464 });
      const problem = (worker: unknown) => {
        try {
          env.config([], { worker });
        } catch (error) {
          if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
          throw error;
        }
        return 'accepted';
      };
      expect(problem({ http: { port: 70000 } })).toBe('worker.http.port: port must be a whole number from 0 to 65535 (0: any free port)');
      expect(problem({ http: true })).toMatch(/^worker\.http: http is false \(no endpoints\) or \{ host, port \}/);
      expect(problem({ http: { port: 9464, tls: true } })).toMatch(/^worker\.http/);
      expect(problem({ alerts: { requestsDueWithinDays: -1 } })).toBe('worker.alerts.requestsDueWithinDays: requestsDueWithinDays must be a whole number of days from 0 to 366');
      expect(problem({ alerts: { requestsDueWithinDays: 2.5 } })).toContain('whole number of days');
    } finally {
      await env.cleanup();
    }
  });
});

describe('log settings', () => {
  it('defaults to info, JSON lines when stdout is not a terminal and pretty lines when it is', () => {
    expect(logSettings({}, false)).toEqual({ level: 'info', format: 'json' });
    expect(logSettings({}, true)).toEqual({ level: 'info', format: 'pretty' });
    expect(logSettings({ LOG_LEVEL: 'debug' }, false)).toEqual({ level: 'debug', format: 'json' });
    expect(logSettings({ LOG_LEVEL: 'debug', RETENTION_LOG_LEVEL: 'WARN' }, false)).toEqual({ level: 'warn', format: 'json' });
    expect(logSettings({ RETENTION_LOG_FORMAT: 'json' }, true)).toEqual({ level: 'info', format: 'json' });
  });

  it('refuses a level or format it does not know, naming the variable', () => {
    expect(() => logSettings({ RETENTION_LOG_LEVEL: 'verbose' }, false)).toThrow('RETENTION_LOG_LEVEL: "verbose" is not a log level (trace, debug, info, warn, error, fatal, silent)');
    expect(() => logSettings({ RETENTION_LOG_FORMAT: 'xml' }, false)).toThrow('RETENTION_LOG_FORMAT: "xml" is not a log format (json, pretty)');
  });
});

describe('retention worker refuses bad settings at start', () => {
  let env: TestEnv;
  let dir: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    env = await createTestEnv();
    dir = tempDir();
  });
  afterEach(async () => {
    dir.remove();
    await env.cleanup();
  });

  it.each([
    [{ RETENTION_LOG_LEVEL: 'verbose' }, 'RETENTION_LOG_LEVEL: "verbose" is not a log level'],
    [{ RETENTION_HTTP_PORT: 'http' }, 'RETENTION_HTTP_PORT: "http" is not a port'],
  ])('%j: exit 2, one line, nothing touched', async (variables, message) => {
    await env.sql(`CREATE TABLE ${env.schema}.logs (id serial PRIMARY KEY, at timestamptz)`);
    const config = dir.write('retention.yaml', env.configYaml([{ id: 'logs', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete', schedule: 'PT1H' }]));
    const outcome = await spawnCli(['worker', '--config', config], variables, { timeoutMs: 20_000 });
    expect(outcome.code).toBe(2);
    expect(outcome.stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(await untouched(env, 'logs')).toEqual({ stateSchema: false, rows: 0, redisKeys: 0 });
  });
});

describe('error kinds', () => {
  const coded = (code: string) => Object.assign(new Error(`failed with ${code}`), { code });

  it('sorts each retried error into connection, lock, timeout or busy, and the rest into permanent', () => {
    const expected: Record<string, string> = {
      ECONNREFUSED: 'connection',
      '08006': 'connection',
      '57P01': 'connection',
      PROTOCOL_CONNECTION_LOST: 'connection',
      '55P03': 'lock',
      '40P01': 'lock',
      ER_LOCK_WAIT_TIMEOUT: 'lock',
      '57014': 'timeout',
      ETIMEDOUT: 'timeout',
      ER_QUERY_TIMEOUT: 'timeout',
      '53300': 'busy',
      EAGAIN: 'busy',
      '42P01': 'permanent',
      '23505': 'permanent',
    };
    for (const [code, kind] of Object.entries(expected)) {
      expect(errorKind(coded(code)), code).toBe(kind);
      expect(isTransient(coded(code)), code).toBe(kind !== 'permanent');
    }
    expect(errorKind(new Error('Connection terminated unexpectedly'))).toBe('connection');
    expect(errorKind(new Error('timeout exceeded when trying to connect'))).toBe('timeout');
    expect(errorKind(new Error('refused job abc: scheduled job for rule x, which this config does not have'))).toBe('refused');
    expect(isTransient(new Error('refused job abc: ...'))).toBe(false);
  });

  it('judges a failed attempt final as BullMQ does: its last attempt, or an UnrecoverableError', () => {
    const job = (attemptsMade: number) => ({ name: 'batch', id: 'b-1-0', data: { sweepId: 's', idx: 0 }, attemptsMade, opts: { attempts: 5 } });
    expect(jobFailure(job(2), coded('55P03'))).toMatchObject({ final: false, kind: 'lock', rule: undefined });
    expect(jobFailure(job(5), coded('55P03'))).toMatchObject({ final: true, kind: 'lock' });
    const unrecoverable = Object.assign(new Error('column "at" does not exist'), { name: 'UnrecoverableError' });
    expect(jobFailure(job(1), unrecoverable)).toMatchObject({ final: true, kind: 'permanent' });
    const sweep = { name: 'sweep', id: 'repeat:x', data: { trigger: 'schedule', ruleId: 'logs', ruleHash: 'h' }, attemptsMade: 1, opts: { attempts: 3 } };
    expect(jobFailure(sweep, new Error('postgres://app:secret@db/x refused'))).toMatchObject({ rule: 'logs', final: false, reason: 'postgres://app:***@db/x refused' });
  });
});

describe('request urgency', () => {
  const now = new Date('2026-05-10T12:00:00Z');
  const request = (dueAt: string, acknowledgeDueAt: string | null = null, acknowledgedAt: string | null = null) => ({
    dueAt: new Date(dueAt),
    acknowledgeDueAt: acknowledgeDueAt ? new Date(acknowledgeDueAt) : null,
    acknowledgedAt: acknowledgedAt ? new Date(acknowledgedAt) : null,
  });

  it('is overdue past the deadline, due soon within N calendar days (0: today), open otherwise', () => {
    expect(requestUrgency(request('2026-05-09T23:59:59.999Z'), now, 'UTC', 7)).toEqual({ urgency: 'overdue', daysLeft: -1, acknowledgementOverdue: false });
    expect(requestUrgency(request('2026-05-10T23:59:59.999Z'), now, 'UTC', 7)).toMatchObject({ urgency: 'due-soon', daysLeft: 0 });
    expect(requestUrgency(request('2026-05-17T23:59:59.999Z'), now, 'UTC', 7)).toMatchObject({ urgency: 'due-soon', daysLeft: 7 });
    expect(requestUrgency(request('2026-05-18T23:59:59.999Z'), now, 'UTC', 7)).toMatchObject({ urgency: 'open', daysLeft: 8 });
    // Days are counted in the config's zone: in Tokyo it is already the 10th's evening, the 11th's deadline is tomorrow.
    expect(requestUrgency(request('2026-05-11T14:59:59.999Z'), now, 'Asia/Tokyo', 0)).toMatchObject({ urgency: 'open', daysLeft: 1 });
  });

  it('tells an acknowledgement overdue until it is acknowledged', () => {
    expect(requestUrgency(request('2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z'), now, 'UTC', 7).acknowledgementOverdue).toBe(true);
    expect(requestUrgency(request('2026-06-01T00:00:00Z', '2026-05-01T00:00:00Z', '2026-04-30T00:00:00Z'), now, 'UTC', 7).acknowledgementOverdue).toBe(false);
    expect(requestUrgency(request('2026-06-01T00:00:00Z', '2026-05-11T00:00:00Z'), now, 'UTC', 7).acknowledgementOverdue).toBe(false);
  });
});
