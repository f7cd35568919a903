import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { describeStoreKind } from './store-conformance.js';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL } from '../helpers/test-env.js';
import { startS3Server, TEST_CREDENTIALS, uniqueBucket, type S3TestServer } from '../helpers/s3-server.js';

/**
 * `kind: s3` on an S3-compatible server (s3rver, test/helpers/s3-server.ts) driven by the
 * real SDK: a bucket per test, one object per item under `documents/`, aged by the
 * `uploaded-at` user-metadata key (ISO). An old object outside the prefix must stay.
 */
let server: S3TestServer;
let admin: S3Client;

describeStoreKind({
  title: 's3',
  kind: 's3',
  unjudged: { missing: 'missing anchor', malformed: 'malformed anchor' },
  anonymize: false,
  environment: { AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey },
  async setup() {
    server = await startS3Server();
    admin = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: TEST_CREDENTIALS });
  },
  async teardown() {
    admin?.destroy();
    await server?.stop();
  },
  async create() {
    const bucket = uniqueBucket('conformance');
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    const put = (key: string, at: string | null) =>
      admin.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key, ...(at === null ? {} : { Metadata: { 'uploaded-at': at } }) }));
    await put('archive/old.pdf', '2001-01-01T00:00:00.000Z');
    const keys = async () => ((await admin.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!);
    return {
      store: { kind: 's3', bucket, region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true },
      rule: { prefix: 'documents/', anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso' },
      async insert(items) {
        for (const item of items) {
          await put(`documents/${item.id}.pdf`, item.anchor === 'missing' ? null : item.anchor === 'malformed' ? 'last tuesday' : new Date(item.anchor).toISOString());
        }
      },
      async remaining() {
        const all = await keys();
        if (!all.includes('archive/old.pdf')) throw new Error('an object outside the prefix was deleted');
        return all.filter((k) => k.startsWith('documents/')).map((k) => k.slice('documents/'.length, -'.pdf'.length));
      },
      broken: { store: { bucket: uniqueBucket('missing') }, names: /stores\.data: bucket "missing-[0-9a-f]+" does not exist at / },
      async cleanup() {
        await Promise.all((await keys()).map((Key) => admin.send(new DeleteObjectCommand({ Bucket: bucket, Key }))));
        await admin.send(new DeleteBucketCommand({ Bucket: bucket }));
      },
    };
  },
});

describe('s3: the message for a missing bucket', () => {
  // Found by this suite: the kind once named the setting "stores.data.stores.data".
  it('names where the bucket setting came from, stores.NAME.bucket, once', async () => {
    const s3 = await startS3Server();
    const env = await createTestEnv();
    const dir = tempDir();
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = TEST_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = TEST_CREDENTIALS.secretAccessKey;
    try {
      const bucket = uniqueBucket('missing');
      const file = dir.write(
        'retention.yaml',
        env.configYaml([{ id: 'docs', store: 'data', prefix: 'documents/', anchor: 'last-modified', retain: 'P30D', action: 'delete' }], {
          stores: { app: { kind: 'postgres', url: DATABASE_URL }, data: { kind: 's3', bucket, region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true } },
        }),
      );
      const check = await runMain(['check', '--config', file]);
      expect(check.code).toBe(2);
      expect(check.stderr).toContain(`(stores.data.bucket in ${file})`);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      dir.remove();
      await env.cleanup();
      await s3.stop();
    }
  });
});
