import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { startS3Server, TEST_CREDENTIALS, uniqueBucket, type S3TestServer } from '../helpers/s3-server.js';

/**
 * `cascade:` into an S3 bucket: rows of scanned contracts own their objects; a sweep deletes
 * the expired rows and exactly their keys (DeleteObjects of those keys), never a key whose
 * row stays, and refuses keys that are not plain.
 */

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
  bucket = uniqueBucket('cascade');
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

describe('row-to-object cascades (s3 store)', () => {
  it('deletes the keys of expired rows only; a missing key counts as deleted, a key that is not plain is refused', async () => {
    const s = env.schema;
    await env.sql(`CREATE TABLE ${s}.contracts (id bigserial PRIMARY KEY, signed_at timestamptz, tenant text, scan text)`);
    const rows: [boolean, string, string | null][] = [
      [true, 'acme', 'c1.pdf'],
      [true, 'acme', 'c2.pdf'],
      [false, 'acme', 'c3.pdf'],
      [true, 'acme', 'gone.pdf'],
      [true, 'acme', '../other/c9.pdf'],
      [true, 'acme', null],
    ];
    for (const [expired, tenant, scan] of rows) {
      await env.sql(`INSERT INTO ${s}.contracts (signed_at, tenant, scan) VALUES (now() - $1::interval, $2, $3)`, [expired ? '4 years' : '1 year', tenant, scan]);
    }
    for (const key of ['scans/acme/c1.pdf', 'scans/acme/c2.pdf', 'scans/acme/c3.pdf', 'scans/other/c9.pdf', 'scans/acme-unrelated.pdf']) {
      await admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
    const config = env.config(
      [{ id: 'contracts-3y', table: 'contracts', anchor: 'signed_at', retain: 'P3Y', action: 'delete', cascade: [{ store: 'scans', path: 'scans/{tenant}/{scan}' }] }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, scans: { kind: 's3', bucket, region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true } } },
    );

    const [result] = await env.run(config);
    expect(result!.sweep.rowsAffected).toBe(5);
    expect(await keys()).toEqual(['scans/acme-unrelated.pdf', 'scans/acme/c3.pdf', 'scans/other/c9.pdf']);
    const remaining = await env.sql<{ scan: string }>(`SELECT scan FROM ${s}.contracts`);
    expect(remaining.map((r) => r.scan)).toEqual(['c3.pdf']);

    const runtime = await env.runtime(config);
    expect((await verifyAudit(runtime.state)).ok).toBe(true);
    const entries = (await env.sql<{ entry: SweepAuditEntry }>(`SELECT entry FROM "${env.stateSchema}".audit_log ORDER BY seq`)).map((r) => r.entry);
    const drained = entries.filter((e) => e.event === 'cascade-drained');
    const sum = (k: 'deleted' | 'missing' | 'refused' | 'failed') => drained.reduce((n, e) => n + (e.objects?.scans?.[k] ?? 0), 0);
    expect([sum('deleted'), sum('missing'), sum('refused'), sum('failed')]).toEqual([2, 1, 1, 0]);
    expect(drained.flatMap((e) => e.refusedObjects ?? []).map((r) => r.reason)).toEqual(['path contains ..']);
    expect(JSON.stringify(entries)).not.toContain('c1.pdf');
  });
});
