import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DateTime } from 'luxon';
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
import { deadline } from '../../src/people/deadlines.js';
import { DEFAULT_REQUEST_POLICY, type RequestPolicy, type WorkingDaysDeadline } from '../../src/policy/request-policy.js';

/**
 * The configs we ship: config/retention.yaml (the demo's) and one policy file per company
 * in config/policies/. They must load and cite their sources; the demo's must fit the
 * tables (and the other stores) the demo builds. Each policy file is run against its own
 * schema (config/policies/<company>.sql) by test/policies/<company>.test.ts.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const yamlIn = (dir: string) =>
  readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'))
    .map((f) => `${dir}/${f}`);
const SHIPPED = [...yamlIn('config'), ...yamlIn('config/policies')];
const POLICIES = yamlIn('config/policies');
/** With no variables set, every `${VAR:-default}` takes its default. */
const NO_ENV = {};

/** Each policy file's seed document (the copies in test/fixtures/policies/). */
const SEEDS: Record<string, string> = {
  'config/policies/letsai.yaml': 'letsai-id-photo-privacy-agreement.txt',
  'config/policies/percent.yaml': 'percent-technology-privacy-policy.txt',
  'config/policies/udesk.yaml': 'udesk-privacy-statement.txt',
  'config/policies/wentong.yaml': 'wentong-cloud-privacy-notice.txt',
  'config/policies/westferry.yaml': 'westferry-tech-privacy-policy.txt',
};

/** Text compared as read: whitespace runs (line breaks of a folded scalar) as one space, any case. */
const normalized = (text: string): string => text.replace(/\s+/g, ' ').trim().toLowerCase();

/** The comment lines directly above the line `line` in a YAML text, without their `#`. */
function commentAbove(text: string, line: string): string {
  const lines = text.split('\n');
  const at = lines.indexOf(line);
  if (at === -1) throw new Error(`no line ${JSON.stringify(line)}`);
  const out: string[] = [];
  for (let i = at - 1; i >= 0 && lines[i]!.startsWith('#'); i--) out.unshift(lines[i]!.replace(/^#\s?/, ''));
  return out.join('\n');
}

/**
 * Every rule of config/policies/*.yaml: what it counts from, how long, what it does, and
 * whose period that is. `policy`: the policy states it, and `quotes` are its words, found
 * both in the policy and in the rule's source. `operator`: the policy states none (or only
 * a bound, quoted), so the source must say it is the operator's choice (or reading) and
 * name the period.
 */
type Stated = { anchor: string; retain: string; action: string; quotes?: string[] } & ({ by: 'policy' } | { by: 'operator'; period: string });
const SIX_MONTHS = 'kept for a maximum of six (6) months from the date of acquisition';
const PERIODS: Record<string, Stated> = {
  'letsai-id-photos': { anchor: 'paid_at', retain: 'P180D', action: 'delete', by: 'policy', quotes: ['Photos are automatically deleted after 180 days'] },
  'letsai-unpaid-id-photos': { anchor: 'created_at', retain: 'P30D', action: 'delete', by: 'operator', period: '30 days' },
  'letsai-child-photos-without-consent': {
    anchor: 'created_at',
    retain: 'PT0S',
    action: 'delete',
    by: 'operator',
    period: 'at once',
    quotes: ["you need to obtain the consent of the corresponding child's guardian before providing it"],
  },
  'letsai-minor-accounts-without-consent': {
    anchor: 'created_at',
    retain: 'PT0S',
    action: 'delete',
    by: 'operator',
    period: 'at once',
    quotes: ['must obtain written consent from their parents or legal guardians before using the service or providing information'],
  },
  'letsai-minor-accounts-consent-not-given': { anchor: 'guardian_consent_requested_at', retain: 'P7D', action: 'delete', by: 'operator', period: '7 days' },
  'letsai-face-data-never-stored': { anchor: 'captured_at', retain: 'PT0S', action: 'delete', by: 'policy', quotes: ['will not be stored'] },
  'letsai-order-ips': { anchor: 'created_at', retain: 'P3Y', action: 'anonymize', by: 'operator', period: '3 years' },
  'letsai-inactive-accounts': { anchor: 'last_active_at', retain: 'P2Y', action: 'delete', by: 'operator', period: '2 years' },
  'percent-login-logs': { anchor: 'logged_in_at', retain: 'P6M', action: 'delete', by: 'policy', quotes: [SIX_MONTHS] },
  'percent-login-sessions': { anchor: 'score', retain: 'P6M', action: 'delete', by: 'policy', quotes: [SIX_MONTHS] },
  'percent-last-ip': { anchor: 'last_active_at', retain: 'P6M', action: 'anonymize', by: 'policy', quotes: [SIX_MONTHS, 'recording your IP address and date and time of your visit'] },
  'percent-closed-account-personal-data': { anchor: 'closed_at', retain: 'P30D', action: 'anonymize', by: 'operator', period: '30 days' },
  'percent-closed-accounts': {
    anchor: 'closed_at',
    retain: 'P3Y',
    action: 'anonymize',
    by: 'policy',
    quotes: ['kept for a maximum of three (3) years from the date when you log out of the account', 'we will delete or anonymize your personal data'],
  },
  'percent-inactive-accounts': { anchor: 'last_active_at', retain: 'P5Y', action: 'delete', by: 'policy', quotes: ['inactive for more than 5 years'] },
  'percent-children-without-consent': { anchor: 'created_at', retain: 'PT0S', action: 'delete', by: 'policy', quotes: ['as soon as possible delete the relevant data'] },
  'percent-children-consent-not-given': { anchor: 'parental_consent_requested_at', retain: 'P7D', action: 'delete', by: 'operator', period: '7 days' },
  'udesk-deletion-requests': { anchor: 'deletion_requested_at', retain: 'P30D', action: 'delete', by: 'operator', period: '30 days', quotes: ['within forty-five days'] },
  'udesk-conversation-deletion-requests': { anchor: 'deletion_requested_at', retain: 'P30D', action: 'delete', by: 'operator', period: '30 days', quotes: ['within forty-five days'] },
  'udesk-contacts-after-relationship': { anchor: 'relationship_ended_at', retain: 'P2Y', action: 'anonymize', by: 'operator', period: '2 years' },
  'udesk-conversations-after-relationship': { anchor: 'relationship_ended_at', retain: 'P2Y', action: 'delete', by: 'operator', period: '2 years' },
  'udesk-transactions-archive': { anchor: 'relationship_ended_at', retain: 'P2Y', action: 'archive', by: 'operator', period: '2 years' },
  'udesk-archived-transactions': { anchor: 'relationship_ended_at', retain: 'P7Y', action: 'delete', by: 'operator', period: '7 years' },
  'udesk-web-visits': { anchor: 'visited_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-documents': { anchor: 'account_closed_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-unprocessed-documents': { anchor: 'uploaded_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-unregistered-uploads': { anchor: 'last-modified', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-exports': { anchor: 'last-modified', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-closed-accounts': { anchor: 'closed_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-access-logs': { anchor: 'accessed_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
  'wentong-support-messages': { anchor: 'created_at', retain: 'P1Y', action: 'delete', by: 'operator', period: '1 year' },
};

/** China's 2026 schedule (State Council notice of 4 November 2025): days off, and weekend days worked. */
const CN_2026 = {
  daysOff: [
    ...['01-01', '01-02', '01-03'],
    ...['02-15', '02-16', '02-17', '02-18', '02-19', '02-20', '02-21', '02-22', '02-23'],
    ...['04-04', '04-05', '04-06'],
    ...['05-01', '05-02', '05-03', '05-04', '05-05'],
    ...['06-19', '06-20', '06-21'],
    ...['09-25', '09-26', '09-27'],
    ...['10-01', '10-02', '10-03', '10-04', '10-05', '10-06', '10-07'],
  ].map((d) => `2026-${d}`),
  workdays: ['2026-01-04', '2026-02-14', '2026-02-28', '2026-05-09', '2026-09-20', '2026-10-10'],
};

/** Each policy file's request deadlines, resolved, and whose they are. */
const REQUESTS: Record<string, { policy: RequestPolicy; by: 'policy' | 'operator'; quotes: string[] }> = {
  'config/policies/letsai.yaml': {
    policy: {
      ...DEFAULT_REQUEST_POLICY,
      due: { kind: 'workingDays', days: 13, holidays: { kind: 'region', region: 'CN' }, workdays: [...CN_2026.workdays, '2026-06-01', '2027-06-01'].sort() },
    },
    by: 'operator',
    quotes: ['We will get back to you within 15 working days'],
  },
  'config/policies/percent.yaml': { policy: DEFAULT_REQUEST_POLICY, by: 'operator', quotes: [] },
  'config/policies/udesk.yaml': {
    policy: { ...DEFAULT_REQUEST_POLICY, due: { kind: 'calendar', duration: 'P45D' }, extension: { kind: 'calendar', duration: 'P45D' } },
    by: 'policy',
    quotes: ["We will respond to 'requests to delete' and 'requests to know' within forty-five days", 'it may take up to ninety days'],
  },
  'config/policies/wentong.yaml': { policy: DEFAULT_REQUEST_POLICY, by: 'operator', quotes: [] },
  'config/policies/westferry.yaml': { policy: DEFAULT_REQUEST_POLICY, by: 'operator', quotes: [] },
};

describe('the shipped configs', () => {
  it('include the main config and one policy file per company of the seed policies', () => {
    expect(SHIPPED).toContain('config/retention.yaml');
    expect(POLICIES.sort()).toEqual(['letsai', 'percent', 'udesk', 'wentong', 'westferry'].map((c) => `config/policies/${c}.yaml`));
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

  it('says so where a policy names no period: Westferry has no rules, every period the policy does not give is the operator\'s choice', () => {
    const westferry = join(ROOT, 'config/policies/westferry.yaml');
    expect(loadConfig(westferry, NO_ENV, STORE_KINDS).rules).toEqual([]);
    expect(readFileSync(westferry, 'utf8')).toMatch(/promises NO retention period/);
    const wentong = loadConfig(join(ROOT, 'config/policies/wentong.yaml'), NO_ENV, STORE_KINDS).rules;
    expect(wentong.length).toBeGreaterThan(0);
    for (const rule of wentong) {
      expect(rule.retain, rule.id).toBe('P1Y');
      expect(rule.source, rule.id).toMatch(/gives\s+NO number/);
      expect(rule.source, rule.id).toMatch(/operator's choice/);
    }
  });

  it('writes the periods the policies state, and says which periods are the operator\'s choice', () => {
    const rules = POLICIES.flatMap((file) => loadConfig(join(ROOT, file), NO_ENV, STORE_KINDS).rules.map((rule) => ({ file, rule })));
    // Every rule of every policy file is in the table, and nothing else.
    expect(rules.map(({ rule }) => rule.id).sort()).toEqual(Object.keys(PERIODS).sort());
    for (const { file, rule } of rules) {
      const expected = PERIODS[rule.id]!;
      const seed = normalized(readFileSync(join(ROOT, 'test/fixtures/policies', SEEDS[file]!), 'utf8'));
      const source = normalized(rule.source ?? '');
      expect([rule.target.anchor, rule.retain, rule.action], rule.id).toEqual([expected.anchor, expected.retain, expected.action]);
      // The policy's own words, quoted in the source, as the policy has them.
      for (const quote of expected.quotes ?? []) {
        expect(seed, `${rule.id}: the policy says ${JSON.stringify(quote)}`).toContain(normalized(quote));
        expect(source, `${rule.id}: its source quotes ${JSON.stringify(quote)}`).toContain(normalized(quote));
      }
      if (expected.by === 'policy') {
        // A period the policy states is never presented as the operator's.
        expect(source, rule.id).not.toMatch(/operator's (choice|reading)/);
      } else {
        expect(source, `${rule.id}: marked as the operator's`).toMatch(/operator's (choice|reading)/);
        expect(source, `${rule.id}: names its period`).toContain(normalized(expected.period));
      }
    }
  });

  it('the demo\'s config writes the periods of the policies it demonstrates', () => {
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

  it('writes every request deadline out, the policy\'s words or the operator\'s choice above it', () => {
    for (const file of POLICIES) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const expected = REQUESTS[file]!;
      expect(loadConfig(join(ROOT, file), NO_ENV, STORE_KINDS).requests, file).toEqual(expected.policy);
      // The section is written in the file, never left to the loader's defaults.
      expect(text, file).toMatch(/^requests:$/m);
      const comment = normalized(commentAbove(text, 'requests:'));
      const seed = normalized(readFileSync(join(ROOT, 'test/fixtures/policies', SEEDS[file]!), 'utf8'));
      for (const quote of expected.quotes) {
        expect(seed, `${file}: the policy says ${JSON.stringify(quote)}`).toContain(normalized(quote));
        expect(comment, `${file}: the requests comment quotes ${JSON.stringify(quote)}`).toContain(normalized(quote));
      }
      if (expected.by === 'operator') expect(comment, file).toMatch(/operator's choice/);
    }
  });

  it('never makes LetsAI\'s deadline later than 15 working days of China\'s official 2026 schedule', () => {
    const due = loadConfig(join(ROOT, 'config/policies/letsai.yaml'), NO_ENV, STORE_KINDS).requests.due;
    expect(due.kind === 'workingDays' && due.workdays).toEqual(expect.arrayContaining(CN_2026.workdays));
    const official = { kind: 'workingDays' as const, days: 15, holidays: { kind: 'dates' as const, dates: CN_2026.daysOff }, workdays: CN_2026.workdays };
    // The calendar date-holidays gives, as the file first had it: late on some days of 2026.
    const plain = { kind: 'workingDays' as const, days: 15, holidays: { kind: 'region' as const, region: 'CN' }, workdays: [] };
    // The file's count with none of the year's days listed, as for a year not published yet
    // (2027 as it was written): 2026 stands in for such a year.
    const unlisted = { ...(due as WorkingDaysDeadline), workdays: [] };
    const late: string[] = [];
    const plainLate: string[] = [];
    const unlistedLate: string[] = [];
    // Every receipt whose 15 working days end within 2026, where the official schedule is known.
    for (let day = DateTime.fromISO('2026-01-01T12:00:00Z', { zone: 'utc' }); day < DateTime.fromISO('2026-12-08T00:00:00Z', { zone: 'utc' }); day = day.plus({ days: 1 })) {
      const received = day.toJSDate();
      const promised = deadline(received, official, 'UTC');
      if (deadline(received, due, 'UTC') > promised) late.push(day.toISODate()!);
      if (deadline(received, plain, 'UTC') > promised) plainLate.push(day.toISODate()!);
      if (deadline(received, unlisted, 'UTC') > promised) unlistedLate.push(day.toISODate()!);
    }
    expect(late).toEqual([]);
    expect(unlistedLate).toEqual([]);
    expect(plainLate.length).toBeGreaterThan(0);
  });

  it('says so where Westferry\'s policy names no deadline: its requests section is written out, the loader\'s defaults as the operator\'s choice', () => {
    const text = readFileSync(join(ROOT, 'config/policies/westferry.yaml'), 'utf8');
    expect(normalized(commentAbove(text, 'requests:'))).toMatch(/names no deadline.*operator's choice.*neither is a promise of the policy/);
    expect(loadConfig(join(ROOT, 'config/policies/westferry.yaml'), NO_ENV, STORE_KINDS).requests).toEqual(DEFAULT_REQUEST_POLICY);
  });

  it('deletes the ID photo files with their rows, and the demo\'s Redis and S3 data under names of its own', () => {
    const rules = loadConfig(join(ROOT, 'config/retention.yaml'), { RETENTION_QUEUE_PREFIX: 'alice-demo' }, STORE_KINDS).rules;
    const target = (id: string) => rules.find((r) => r.id === id)!.target as Record<string, unknown>;
    expect(target('letsai-id-photos').cascade).toMatchObject([{ store: 'photos', path: '{file_path}' }]);
    expect(target('percent-login-sessions')).toMatchObject({ keys: 'alice-demo.sessions:percent:logins:*', shape: 'zset', anchorUnit: 'ms' });
    expect(target('wentong-unregistered-uploads')).toMatchObject({ prefix: 'incoming/', anchor: 'last-modified' });
    // No rule deletes objects under uploads/ by age: a registered document's object belongs to its row.
    expect(rules.filter((r) => r.kind === 's3').map((r) => r.target.prefix)).not.toContain('uploads/');
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

  // The demo's config only: the policy files name their own schemas, which their tests load.
  it.each(['config/retention.yaml'])('%s fits the tables: every table, column, type and key checks out', async (file) => {
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
