import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import type { Rule } from '../../src/policy/rule.js';
import { credentialsFrom } from '../../src/stores/s3/connect.js';
import type { S3StoreConfig } from '../../src/stores/s3/s3-config.js';
import { S3Store } from '../../src/stores/s3/s3-store.js';
import type { S3Target } from '../../src/stores/s3/s3-target.js';
import type { StoreDeps } from '../../src/stores/store-kind.js';
import { testRule } from '../helpers/test-rule.js';
import { startS3Server, TEST_CREDENTIALS, uniqueBucket, type S3TestServer } from '../helpers/s3-server.js';

/** A delete rule `documents` on store `docs`, by LastModified under `documents/`, with the fields given. */
export function s3Rule(target: Partial<S3Target> = {}, overrides: Partial<Rule<S3Target>> = {}): Rule<S3Target> {
  return testRule({ id: 'documents', store: 'docs', kind: 's3', target: { prefix: 'documents/', anchor: 'last-modified', ...target } }, overrides);
}

const DEPS: StoreDeps = {
  origin: (field) => `stores.docs.${field} in test.yaml`,
  queuePrefix: 'retention',
  stateUrl: 'postgres://postgres@127.0.0.1:5432/test',
  stateSchema: 'retention',
  timezone: 'UTC',
};

/** What a test file using `useS3Bucket` reads inside its tests. */
export interface S3Bucket {
  /** The file's loopback S3 server. */
  readonly server: S3TestServer;
  /** The tests' own client, to set up and look at a bucket (never a store's). */
  readonly admin: S3Client;
  /** The running test's own bucket. */
  readonly bucket: string;
  /** The store config of store `docs` on the test's bucket, with the fields given. */
  config(overrides?: Partial<S3StoreConfig>): S3StoreConfig;
  /** Store `docs` as s3Kind.create makes it (credentials from the environment), closed after the test. */
  store(overrides?: Partial<S3StoreConfig>): S3Store;
  /** Every key in `name` (the test's bucket by default), sorted. */
  keys(name?: string): Promise<string[]>;
  /** Deletes every object of `name`, then the bucket. */
  drop(name: string): Promise<void>;
}

/**
 * Registers the hooks of an S3 test file: one loopback server for the file, and per test a
 * fresh bucket (its name starting with `prefix`), emptied and dropped after it, with the
 * server's credentials in the environment, where a store reads them.
 */
export function useS3Bucket(prefix = 'test'): S3Bucket {
  let server: S3TestServer | undefined;
  let admin: S3Client | undefined;
  let bucket: string | undefined;
  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`the S3 test ${what} is used outside a test`);
    return value;
  };
  const opened: S3Store[] = [];
  const fixture: S3Bucket = {
    get server() {
      return ready(server, 'server');
    },
    get admin() {
      return ready(admin, 'client');
    },
    get bucket() {
      return ready(bucket, 'bucket');
    },
    config: (overrides = {}) => ({ bucket: fixture.bucket, endpoint: fixture.server.endpoint, region: 'us-east-1', forcePathStyle: true, ...overrides }),
    store(overrides = {}) {
      // What s3Kind.create makes (credentials from the environment), built here without its
      // await: s3Kind.create is async only to import the AWS SDK when a config needs it.
      const created = new S3Store('docs', fixture.config(overrides), { credentials: credentialsFrom(process.env), origin: DEPS.origin('bucket') });
      opened.push(created);
      return created;
    },
    async keys(name = fixture.bucket) {
      const found: string[] = [];
      let token: string | undefined;
      do {
        const page = await fixture.admin.send(new ListObjectsV2Command({ Bucket: name, ContinuationToken: token }));
        found.push(...(page.Contents ?? []).map((object) => object.Key!));
        token = page.NextContinuationToken;
      } while (token);
      return found.sort();
    },
    async drop(name) {
      const keys = await fixture.keys(name).catch(() => null);
      if (keys === null) return;
      // One DeleteObject each: the test server refuses held-* keys in DeleteObjects only.
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((key) => fixture.admin.send(new DeleteObjectCommand({ Bucket: name, Key: key }))));
      }
      await fixture.admin.send(new DeleteBucketCommand({ Bucket: name }));
    },
  };

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
    bucket = uniqueBucket(prefix);
    await fixture.admin.send(new CreateBucketCommand({ Bucket: bucket }));
  });
  afterEach(async () => {
    vi.unstubAllEnvs();
    await Promise.all(opened.splice(0).map((store) => store.close()));
    if (bucket !== undefined) await fixture.drop(bucket);
    bucket = undefined;
  });
  return fixture;
}
