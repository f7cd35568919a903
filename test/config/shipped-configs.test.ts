import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { inspectLive } from '../../src/cli/inspect-config.js';
import { loadConfig, parseConfig } from '../../src/policy/load-config.js';
import { openRuntime } from '../../src/runtime/runtime.js';
import { CREATE_CONVERSATIONS } from '../../scripts/demo-mysql.js';
import { buildDemoSchema, DEMO_SCHEMA } from '../../scripts/demo-schema.js';
import { MYSQL_URL } from '../stores/mysql-env.js';
import { startS3Server, TEST_CREDENTIALS, type S3TestServer } from '../helpers/s3-server.js';
import { createTestEnv, DATABASE_URL, REDIS_URL, TEST_HMAC_KEY, type TestEnv } from '../helpers/test-env.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

/**
 * The configs we ship: config/retention.yaml (the demo's) and one example per company in
 * config/examples/. They must load, cite their sources, agree with each other, and fit the
 * tables (and the other stores) the demo builds.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const yamlIn = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => `${dir}/${f}`);
const SHIPPED = [...yamlIn('config'), ...yamlIn('config/examples')];
const EXAMPLES = yamlIn('config/examples');
/** With no variables set, every `${VAR:-default}` takes its default. */
const NO_ENV = {};

describe('the shipped configs', () => {
  it('include the main config and one example per company of the seed policies', () => {
    expect(SHIPPED).toContain('config/retention.yaml');
    expect(EXAMPLES.sort()).toEqual(['letsai', 'percent', 'udesk', 'wentong', 'westferry'].map((c) => `config/examples/${c}.yaml`));
  });

  it.each(SHIPPED)('%s loads without a problem', (file) => {
    expect(() => loadConfig(join(ROOT, file), NO_ENV, STORE_KINDS)).not.toThrow();
  });

  it.each(SHIPPED)('%s cites a source for every rule', (file) => {
    for (const rule of loadConfig(join(ROOT, file), NO_ENV, STORE_KINDS).rules) {
      expect(rule.source, `${file}: ${rule.id}`).toMatch(/(Privacy (Policy|Agreement|Notice|Statement)).*section/s);
    }
  });

  it('takes every URL from the environment, with a local default', () => {
    const config = loadConfig(join(ROOT, 'config/retention.yaml'), {
      DATABASE_URL: 'postgres://app@db.internal:5432/prod',
      REDIS_URL: 'redis://cache.internal:6379',
    }, STORE_KINDS);
    expect(config.state).toBe('postgres://app@db.internal:5432/prod');
    expect(config.stores.app!.url).toBe('postgres://app@db.internal:5432/prod');
    expect(config.redis).toBe('redis://cache.internal:6379');
    const defaults = loadConfig(join(ROOT, 'config/retention.yaml'), NO_ENV, STORE_KINDS);
    expect(defaults.state).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(defaults.redis).toBe('redis://127.0.0.1:6379');
  });

  it('keeps each example rule identical to the same rule in config/retention.yaml', () => {
    const main = loadConfig(join(ROOT, 'config/retention.yaml'), NO_ENV, STORE_KINDS);
    const fromExamples = EXAMPLES.flatMap((file) => loadConfig(join(ROOT, file), NO_ENV, STORE_KINDS).rules);
    expect(fromExamples.map((r) => r.id).sort()).toEqual(main.rules.map((r) => r.id).sort());
    for (const rule of fromExamples) expect(rule).toEqual(main.rules.find((r) => r.id === rule.id));
  });

  it('says so where a policy names no period: Westferry has no rules, Wentong\'s period is the operator\'s choice', () => {
    const westferry = join(ROOT, 'config/examples/westferry.yaml');
    expect(loadConfig(westferry, NO_ENV, STORE_KINDS).rules).toEqual([]);
    expect(readFileSync(westferry, 'utf8')).toMatch(/promises NO retention period/);
    const wentong = loadConfig(join(ROOT, 'config/examples/wentong.yaml'), NO_ENV, STORE_KINDS).rules[0]!;
    expect(wentong.retain).toBe('P1Y');
    expect(wentong.source).toMatch(/gives\s+NO number/);
    expect(wentong.source).toMatch(/operator's choice/);
  });

  it('writes the periods the policies state', () => {
    const retain = Object.fromEntries(loadConfig(join(ROOT, 'config/retention.yaml'), NO_ENV, STORE_KINDS).rules.map((r) => [r.id, [r.target.anchor, r.retain, r.action]]));
    expect(retain).toMatchObject({
      'letsai-id-photos': ['paid_at', 'P180D', 'delete'],
      'percent-login-logs': ['logged_in_at', 'P6M', 'delete'],
      'percent-closed-accounts': ['closed_at', 'P3Y', 'anonymize'],
      'percent-inactive-accounts': ['last_active_at', 'P5Y', 'delete'],
      'percent-login-sessions': ['score', 'P6M', 'delete'],
      'udesk-conversation-deletion-requests': ['deletion_requested_at', 'P30D', 'delete'],
    });
  });

  it('deletes the ID photo files with their rows, and the demo\'s Redis and S3 data under names of its own', () => {
    const rules = loadConfig(join(ROOT, 'config/retention.yaml'), { RETENTION_QUEUE_PREFIX: 'alice-demo' }, STORE_KINDS).rules;
    const target = (id: string) => rules.find((r) => r.id === id)!.target as Record<string, unknown>;
    expect(target('letsai-id-photos').cascade).toMatchObject([{ store: 'photos', path: '{file_path}' }]);
    expect(target('percent-login-sessions')).toMatchObject({ keys: 'alice-demo.sessions:percent:logins:*', shape: 'zset', anchorUnit: 'ms' });
    expect(target('wentong-uploaded-documents')).toMatchObject({ prefix: 'uploads/', anchor: 'last-modified' });
  });
});

describe('the shipped configs against the demo tables', () => {
  let env: TestEnv;
  /** The demo's other stores: an S3 server with the documents bucket, a photos directory, a MariaDB database (Redis is the tests'). */
  let s3: S3TestServer;
  let photos: string;
  const mysqlDatabase = `shipped_${randomBytes(5).toString('hex')}`;
  let mysqlAdmin: mysql.Connection | undefined;
  // Built once for all files: inspecting changes nothing.
  beforeAll(async () => {
    photos = mkdtempSync(join(tmpdir(), 'shipped-photos-'));
    mysqlAdmin = await mysql.createConnection({ uri: MYSQL_URL });
    await mysqlAdmin.query(`CREATE DATABASE ${mysqlDatabase}`);
    await mysqlAdmin.query(`USE ${mysqlDatabase}`);
    await mysqlAdmin.query(CREATE_CONVERSATIONS);
    s3 = await startS3Server();
    const admin = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS });
    await admin.send(new CreateBucketCommand({ Bucket: 'wentong-documents' }));
    admin.destroy();
    vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
    env = await createTestEnv();
    const client = await env.pool.connect();
    try {
      // The demo's tables and data, in this test's own schema of the test database.
      await buildDemoSchema(client, env.schema);
    } finally {
      client.release();
    }
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await env?.cleanup();
    await s3?.stop();
    if (photos) rmSync(photos, { recursive: true, force: true });
    await mysqlAdmin?.query(`DROP DATABASE IF EXISTS ${mysqlDatabase}`);
    await mysqlAdmin?.end();
  });

  it.each(SHIPPED)('%s fits the tables: every table, column, type and key checks out', async (file) => {
    const text = readFileSync(join(ROOT, file), 'utf8')
      .replaceAll(`${DEMO_SCHEMA}.`, `${env.schema}.`)
      .replace(/^(\s+root: )\/tmp\/.*-photos$/m, `$1${photos}`);
    const vars = { DATABASE_URL, REDIS_URL, RETENTION_DEMO_S3_ENDPOINT: s3.endpoint, MYSQL_URL: `${MYSQL_URL}/${mysqlDatabase}` };
    const config = parseConfig(text, file, vars, STORE_KINDS);
    const runtime = await openRuntime(config, { RETENTION_HMAC_KEY: TEST_HMAC_KEY });
    try {
      expect(await inspectLive(runtime, config.rules, { redis: false })).toEqual([]);
    } finally {
      await runtime.close();
    }
  });
});
