import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Duration } from 'luxon';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows, type Row } from './insert-rows.js';
import { knownAges } from './known-ages.js';
import { createPolicyWorld, runAllConfirming, type PolicyWorld } from './policy-world.js';
import { startS3Server, TEST_CREDENTIALS, uniqueBucket, type S3TestServer } from '../helpers/s3-server.js';

/**
 * config/policies/wentong.yaml as shipped, on its own schema (config/policies/wentong.sql)
 * and its own bucket on the loopback S3 server, with synthetic rows and uploaded objects
 * at known ages: `check`, `run --all`, then exactly which rows and objects remain,
 * `audit verify`, `coverage`, and an erasure reaching a document's object through its row.
 * The notice names no period: every rule's is the operator's one year.
 */

const ages = knownAges();
const YEAR = 'P1Y';

let world: PolicyWorld;
let s3: S3TestServer;
let admin: S3Client;
const bucket = uniqueBucket('wentong');
let run: Awaited<ReturnType<typeof runAllConfirming>>;

/** Four rows per rule: expired long ago, expired by an hour, due in an hour, recent. */
const aged = (build: (id: number, at: ReturnType<typeof ages.ago>) => Row): Row[] => [
  build(1, ages.longExpired(YEAR)),
  build(2, ages.justExpired(YEAR)),
  build(3, ages.notYet(YEAR)),
  build(4, ages.ago({ days: 2 })),
];

const user = (id: number, closed: ReturnType<typeof ages.ago> | null): Row => ({
  id,
  username: `user${id}`,
  password_hash: `$argon2id$${id}`,
  name: `Name ${id}`,
  company_name: 'Example Trading Co.',
  job_title: 'Clerk',
  email: `user${id}@example.com`,
  phone: '+86 21 5555 0000',
  mailing_address: '1 Example Road, Shanghai',
  billing_card_last4: '4242',
  created_at: ages.ago({ days: 3000 }),
  closed_at: closed,
});

const USERS: Row[] = [
  // wentong-closed-accounts, and the documents of each (wentong-documents): a year after closing.
  ...aged((id, at) => user(id, at)),
  // Open for years: in use, kept with its processed documents however old.
  user(5, null),
  // Open when its document was uploaded, closed (long ago) before the run: the trigger dates the document.
  user(6, null),
];
/** User 6's closing, written in beforeAll after its document, as the application closes an account. */
const USER_6_CLOSED = ages.longExpired(YEAR);

const UPLOADED_LONG_AGO = ages.longExpired(YEAR, Duration.fromObject({ days: 400 }));

/** A document row and its object's key; processed five minutes after upload unless said otherwise. */
const document = (id: number, uploadedBy: number, uploaded: ReturnType<typeof ages.ago>, processed = true): Row => ({
  id,
  tenant_id: 'tenant-1',
  uploaded_by: uploadedBy,
  file_name: `invoice-${id}.pdf`,
  storage_key: `uploads/tenant-1/${id}.pdf`,
  uploaded_at: uploaded,
  processed_at: processed ? uploaded.plus({ minutes: 5 }) : null,
});

const DOCUMENTS: Row[] = [
  // wentong-documents: a year after the uploader's account closed (users 1-4), whenever uploaded.
  document(1, 1, UPLOADED_LONG_AGO),
  document(2, 2, UPLOADED_LONG_AGO),
  document(3, 3, UPLOADED_LONG_AGO),
  document(4, 4, ages.ago({ days: 30 })),
  // An open account's processed document, uploaded years ago: kept while the account is open.
  document(5, 5, UPLOADED_LONG_AGO),
  // wentong-unprocessed-documents: never processed, a year after upload, open account or not.
  document(6, 5, ages.longExpired(YEAR), false),
  document(7, 5, ages.notYet(YEAR), false),
  // Dated by the trigger when user 6 is closed, after the upload.
  document(8, 6, UPLOADED_LONG_AGO),
];

const ACCESS_LOGS = aged((id, at) => ({ id, user_id: 1, ip: `198.51.100.${id}`, browser: 'Firefox', device: 'desktop', page: '/inbox', accessed_at: at }));
const SUPPORT = aged((id, at) => ({ id, user_id: 1, reply_email: 'user1@example.com', body: `question ${id}`, created_at: at }));

/** Objects by key, with their LastModified (null: as uploaded, now). */
const OBJECTS: Record<string, ReturnType<typeof ages.ago> | null> = {
  // Each document's object, as old as its upload: it goes with its row, never by its age.
  ...Object.fromEntries(DOCUMENTS.map((d) => [d.storage_key as string, d.uploaded_at as ReturnType<typeof ages.ago>])),
  // An object under uploads/ that no row names, old: nothing deletes it (see wentong.yaml).
  'uploads/tenant-1/no-row.pdf': ages.longExpired(YEAR),
  // wentong-unregistered-uploads: an upload never registered, a year after it was written.
  'incoming/u-1': ages.longExpired(YEAR),
  'incoming/u-2': ages.justExpired(YEAR),
  'incoming/u-3': ages.notYet(YEAR),
  'incoming/u-4': null,
  // wentong-exports: a year after written, filed by user.
  'exports/1/report.csv': ages.longExpired(YEAR),
  'exports/5/old.csv': ages.justExpired(YEAR),
  'exports/5/report.csv': ages.notYet(YEAR),
  'exports/6/report.csv': null,
  // Outside every rule's prefix: a look-alike prefix.
  'uploads-archive/old.pdf': ages.longExpired(YEAR),
};

beforeAll(async () => {
  world = await createPolicyWorld('wentong');
  s3 = await startS3Server();
  admin = new S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS });
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  for (const [key, lastModified] of Object.entries(OBJECTS)) {
    await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `document ${key}` }));
    if (lastModified !== null) await s3.setLastModified(bucket, key, lastModified.toMillis());
  }
  world.setEnv({
    WENTONG_S3_ENDPOINT: s3.endpoint,
    WENTONG_S3_BUCKET: bucket,
    WENTONG_S3_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
    // The SDK's notice that its 2027 versions need Node 22 would be the only stderr line of
    // `check`, which must otherwise print nothing there (no problem, no warning).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });
  // Users first: a document of an account already closed is dated on insert (trigger).
  await insertRows(world.db, 'wentong.users', USERS);
  await insertRows(world.db, 'wentong.documents', DOCUMENTS);
  await world.sql('UPDATE wentong.users SET closed_at = $1 WHERE id = 6', [USER_6_CLOSED.toISO()]);
  await insertRows(world.db, 'wentong.access_logs', ACCESS_LOGS);
  await insertRows(world.db, 'wentong.support_messages', SUPPORT);

  const check = await world.cli(['check']);
  expect(check.stderr).toBe('');
  expect(check.code).toBe(0);
  run = await runAllConfirming(world);
});

afterAll(async () => {
  admin?.destroy();
  await s3?.stop();
  await world?.cleanup();
});

const keysInBucket = async (): Promise<string[]> => ((await admin.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!).sort();

describe('config/policies/wentong.yaml', () => {
  it('passes check (in beforeAll) and sweeps every rule to the end, none over its limits', () => {
    expect([...run.rules.values()].map((r) => [r.id, r.status])).toEqual([
      ['wentong-documents', 'done'],
      ['wentong-unprocessed-documents', 'done'],
      ['wentong-unregistered-uploads', 'done'],
      ['wentong-exports', 'done'],
      ['wentong-closed-accounts', 'done'],
      ['wentong-access-logs', 'done'],
      ['wentong-support-messages', 'done'],
    ]);
    expect(run.confirmed).toEqual([]);
  });

  it('deletes documents a year after their account closed, keeps an open account\'s however old, and deletes one never processed a year after upload', async () => {
    expect(await world.ids('wentong.documents')).toEqual(['3', '4', '5', '7']);
  });

  it('deletes each deleted document\'s object with its row, unregistered uploads and exports a year after written, and nothing else', async () => {
    expect(await keysInBucket()).toEqual([
      'exports/5/report.csv',
      'exports/6/report.csv',
      'incoming/u-3',
      'incoming/u-4',
      'uploads-archive/old.pdf',
      'uploads/tenant-1/3.pdf',
      'uploads/tenant-1/4.pdf',
      'uploads/tenant-1/5.pdf',
      'uploads/tenant-1/7.pdf',
      'uploads/tenant-1/no-row.pdf',
    ]);
  });

  it('deletes accounts a year after closing and keeps open ones', async () => {
    expect(await world.ids('wentong.users')).toEqual(['3', '4', '5']);
  });

  it('deletes access logs and support messages a year after they were written', async () => {
    expect(await world.ids('wentong.access_logs')).toEqual(['3', '4']);
    expect(await world.ids('wentong.support_messages')).toEqual(['3', '4']);
  });

  it('leaves an audit log that verifies', async () => {
    const verify = await world.cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });

  it('leaves no personal-data column of its schema uncovered, and says the bucket was not inspected', async () => {
    const coverage = await world.cli(['coverage', '--json']);
    expect(coverage.code).toBe(0);
    const report = JSON.parse(coverage.stdout);
    expect(report).toMatchObject({ ok: true, inspected: ['app'], uncoveredColumns: [], unruledEntries: [], missing: [] });
    // Coverage reads PostgreSQL only: the bucket's rules and inventory entries are listed, not checked.
    expect(report.notInspected).toEqual([{ store: 'documents', kind: 's3', entries: ['rules[2]', 'rules[3]', 'inventory[4]', 'inventory[5]'] }]);
  });

  // Changes what the tests above read: last.
  it('erases a person with an open account: their documents\' objects go with the rows, and their exports', async () => {
    const erase = await world.cli(['erase', '--subject', '5', '--json', '--actor', 'policy-test']);
    expect(erase.stderr).toBe('');
    expect(erase.code).toBe(0);
    expect(await world.ids('wentong.users')).toEqual(['3', '4']);
    expect(await world.ids('wentong.documents')).toEqual(['3', '4']);
    expect(await keysInBucket()).toEqual([
      'exports/6/report.csv',
      'incoming/u-3',
      'incoming/u-4',
      'uploads-archive/old.pdf',
      'uploads/tenant-1/3.pdf',
      'uploads/tenant-1/4.pdf',
      'uploads/tenant-1/no-row.pdf',
    ]);
  });
});
