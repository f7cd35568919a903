import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyAudit } from '../../src/audit/verify-audit.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { uniqueBucket } from '../helpers/s3-server.js';
import { useS3Bucket } from './s3-fixture.js';

const box = useS3Bucket();
let env: TestEnv;

beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const keys = () => box.keys();

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
      await box.admin.send(new PutObjectCommand({ Bucket: box.bucket, Key: key, Body: key, Metadata: { 'uploaded-at': at } }));
    }
    const config = env.config(
      [{ id: 'documents-3y', store: 'docs', prefix: 'documents/', anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso', retain: 'P3Y', action: 'delete', limits: { maxFraction: 1 } }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, docs: { kind: 's3', bucket: box.bucket, region: 'us-east-1', endpoint: box.server.endpoint, forcePathStyle: true } } },
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
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, docs: { kind: 's3', bucket: name, region: 'us-east-1', endpoint: box.server.endpoint, forcePathStyle: true, ...extra } } },
    );

  it('passes check on a plain bucket, and refuses a versioned one at check and plan, by rule, naming versions: delete-all', async () => {
    const dir = tempDir();
    const versioned = uniqueBucket('versioned');
    await box.admin.send(new CreateBucketCommand({ Bucket: versioned }));
    try {
      await box.admin.send(new PutObjectCommand({ Bucket: versioned, Key: 'documents/old.pdf', Body: 'x' }));
      const plain = await runMain(['check', '--config', dir.write('plain.yaml', storeYaml(box.bucket))]);
      expect(plain.stderr).toBe('');
      expect(plain.code).toBe(0);

      const file = dir.write('versioned.yaml', storeYaml(versioned));
      const check = await runMain(['check', '--config', file]);
      expect(check.code).toBe(2);
      expect(check.stderr).toMatch(/rules\[0\]\.store: bucket "versioned-[0-9a-f]+" has versioning Enabled.*stores\.docs\.versions: delete-all/);
      const plan = await runMain(['plan', '--config', file]);
      expect(plan.code).not.toBe(0);
      expect(plan.stderr).toContain('versions: delete-all');

      const left = await box.admin.send(new ListObjectsV2Command({ Bucket: versioned }));
      expect(left.Contents?.map((o) => o.Key)).toEqual(['documents/old.pdf']);
    } finally {
      dir.remove();
      await box.admin.send(new DeleteObjectCommand({ Bucket: versioned, Key: 'documents/old.pdf' }));
      await box.admin.send(new DeleteBucketCommand({ Bucket: versioned }));
    }
  });
});
