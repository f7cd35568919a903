import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { startS3Server, TEST_CREDENTIALS, uniqueBucket, type S3TestServer } from '../helpers/s3-server.js';

let server: S3TestServer;
let admin: S3Client;
let env: TestEnv;
let bucket: string;

beforeAll(async () => {
  server = await startS3Server();
  admin = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS });
});
afterAll(async () => {
  admin?.destroy();
  await server?.stop();
});
beforeEach(async () => {
  vi.stubEnv('AWS_ACCESS_KEY_ID', TEST_CREDENTIALS.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', TEST_CREDENTIALS.secretAccessKey);
  env = await createTestEnv();
  bucket = uniqueBucket();
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await env.cleanup();
  const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
  await Promise.all((page.Contents ?? []).map((o) => admin.send(new DeleteObjectCommand({ Bucket: bucket, Key: o.Key! }))));
  await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
});

async function keys(): Promise<string[]> {
  const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket }));
  return (page.Contents ?? []).map((o) => o.Key!).sort();
}

describe('an s3 sweep through the queue', () => {
  it('a dry run counts, the run deletes exactly the expired objects, a refused key is reported, and the audit records them', async () => {
    const old = '2020-01-01T00:00:00Z';
    const fresh = new Date().toISOString();
    const objects: [string, string][] = [
      ['documents/invoice-1.pdf', old],
      ['documents/invoice-2.pdf', old],
      ['documents/held-contract.pdf', old],
      ['documents/recent.pdf', fresh],
      ['documents/unreadable.pdf', 'not a date'],
      ['archive/invoice-0.pdf', old],
    ];
    for (const [key, at] of objects) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key, Metadata: { 'uploaded-at': at } }));
    }
    const config = env.config(
      [{ id: 'documents-3y', store: 'docs', prefix: 'documents/', anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso', retain: 'P3Y', action: 'delete', limits: { maxFraction: 1 } }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, docs: { kind: 's3', bucket, region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true } } },
    );

    const [dry] = await env.run(config, { dryRun: true });
    expect(dry!.sweep.rowsAffected).toBe(3);
    expect(await keys()).toHaveLength(6);

    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(2);
    expect(await keys()).toEqual(['archive/invoice-0.pdf', 'documents/held-contract.pdf', 'documents/recent.pdf', 'documents/unreadable.pdf']);

    const runtime = await env.runtime(config);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
    const entries = await env.sql<{ entry: Record<string, unknown> }>(
      `SELECT entry FROM ${env.stateSchema}.audit_log WHERE entry->>'event' = 'batch' AND NOT coalesce((entry->>'dryRun')::boolean, false)`,
    );
    expect(entries.map((e) => e.entry.rows)).toEqual([2]);
    const text = JSON.stringify(entries);
    expect(text).toContain('AccessDenied');
    expect(text).not.toContain('held-contract');
  });
});

describe('check and plan on an s3 store', () => {
  const storeYaml = (name: string, extra: Record<string, unknown> = {}) =>
    env.configYaml(
      [{ id: 'documents-3y', store: 'docs', prefix: 'documents/', anchor: 'last-modified', retain: 'P3Y', action: 'delete' }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, docs: { kind: 's3', bucket: name, region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, ...extra } } },
    );

  it('passes check on a plain bucket, and refuses a versioned one at check and plan, by rule, naming versions: delete-all', async () => {
    const dir = tempDir();
    const versioned = uniqueBucket('versioned');
    await admin.send(new CreateBucketCommand({ Bucket: versioned }));
    try {
      await admin.send(new PutObjectCommand({ Bucket: versioned, Key: 'documents/old.pdf', Body: 'x' }));
      const plain = await runMain(['check', '--config', dir.write('plain.yaml', storeYaml(bucket))]);
      expect(plain.stderr).toBe('');
      expect(plain.code).toBe(0);

      const file = dir.write('versioned.yaml', storeYaml(versioned));
      const check = await runMain(['check', '--config', file]);
      expect(check.code).toBe(2);
      expect(check.stderr).toMatch(/rules\[0\]\.store: bucket "versioned-[0-9a-f]+" has versioning Enabled.*stores\.docs\.versions: delete-all/);
      const plan = await runMain(['plan', '--config', file]);
      expect(plan.code).not.toBe(0);
      expect(plan.stderr).toContain('versions: delete-all');

      const left = await admin.send(new ListObjectsV2Command({ Bucket: versioned }));
      expect(left.Contents?.map((o) => o.Key)).toEqual(['documents/old.pdf']);
    } finally {
      dir.remove();
      await admin.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'documents/old.pdf' }));
      await admin.send(new DeleteBucketCommand({ Bucket: versioned }));
    }
  });
});
