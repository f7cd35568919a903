import { CreateBucketCommand, DeleteObjectsCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DateTime, Duration } from 'luxon';
import { describe, expect, it, vi } from 'vitest';
import { UserError } from '../../src/errors.js';
import { isTransient } from '../../src/executor/classify-error.js';
import { expiredRanges, type AnchorRange } from '../../src/policy/expiry.js';
import type { Rule } from '../../src/policy/rule.js';
import { createS3Client, type S3Place } from '../../src/stores/s3/connect.js';
import { floorSecond } from '../../src/stores/s3/judged-object.js';
import { recheckObjects } from '../../src/stores/s3/recheck-objects.js';
import { DELETE_BATCH, S3Store } from '../../src/stores/s3/s3-store.js';
import type { S3Target } from '../../src/stores/s3/s3-target.js';
import { expired } from '../../src/stores/selection.js';
import { TEST_CREDENTIALS, uniqueBucket } from '../helpers/s3-server.js';
import { s3Rule, useS3Bucket } from './s3-fixture.js';

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const DAY = 86_400_000;
const ORIGIN = 'stores.docs.bucket in test.yaml';
/** Everything up to a day from now: every object a test just wrote is expired by LastModified. */
const EVERYTHING = (): AnchorRange[] => [{ from: null, to: Date.now() + DAY }];
const ms = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' }).toMillis();

/** The file's server, the tests' own client, and a fresh bucket per test; dummy credentials in the environment, as in production. */
const box = useS3Bucket();
const config = box.config;
const store = box.store;
const rule = (target: Partial<S3Target> = {}) => s3Rule(target);

const uploadedAt = (unit: 'ms' | 's' | 'iso') => rule({ anchor: { metadata: 'uploaded-at' }, anchorUnit: unit });

async function put(key: string, options: { lastModified?: number; metadata?: Record<string, string>; body?: string } = {}): Promise<void> {
  await box.admin.send(new PutObjectCommand({ Bucket: box.bucket, Key: key, Body: options.body ?? `contents of ${key}`, Metadata: options.metadata }));
  if (options.lastModified !== undefined) await box.server.setLastModified(box.bucket, key, options.lastModified);
}

const keys = () => box.keys();

async function sweep(s3: S3Store, r: Rule<S3Target>, ranges: readonly AnchorRange[], dryRun = false) {
  return s3.apply({ rule: r, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });
}

async function deleteRequests(): Promise<number[]> {
  const answer = await fetch(`${box.server.endpoint}/__stats/${box.bucket}`);
  return ((await answer.json()) as { deleteRequests: number[] }).deleteRequests;
}

describe('the S3 test server', () => {
  it('serves what the SDK sends: PutObject with metadata, HeadObject, paged ListObjectsV2 and DeleteObjects', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await put(`documents/${name}.pdf`, { metadata: { 'uploaded-at': '2020-01-01T00:00:00Z' } });
    const head = await box.admin.send(new HeadObjectCommand({ Bucket: box.bucket, Key: 'documents/c.pdf' }));
    expect(head.Metadata).toEqual({ 'uploaded-at': '2020-01-01T00:00:00Z' });

    const listed: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await box.admin.send(new ListObjectsV2Command({ Bucket: box.bucket, Prefix: 'documents/', MaxKeys: 2, ContinuationToken: token }));
      listed.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.NextContinuationToken;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(listed).toHaveLength(5);

    const answer = await box.admin.send(new DeleteObjectsCommand({ Bucket: box.bucket, Delete: { Objects: [{ Key: 'documents/a.pdf' }, { Key: 'documents/b.pdf' }] } }));
    expect(answer.Deleted?.map((d) => d.Key).sort()).toEqual(['documents/a.pdf', 'documents/b.pdf']);
    expect(await keys()).toEqual(['documents/c.pdf', 'documents/d.pdf', 'documents/e.pdf']);
  });
});

describe('the s3 store, aged by LastModified', () => {
  it('deletes an object whose whole LastModified second is expired and keeps one a second later', async () => {
    // Aug 31 + P6M is Feb 28 (clamped): an object of Aug 31 12:00:00 is due Feb 28 12:00:00.999 at the latest.
    await put('documents/due.pdf', { lastModified: ms('2026-08-31T12:00:00.000') });
    await put('documents/next-second.pdf', { lastModified: ms('2026-08-31T12:00:01.000') });
    const now = ms('2027-02-28T12:00:00.999');
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');

    const result = await sweep(store(), rule(), ranges);

    expect(result.rows).toBe(1);
    expect(await keys()).toEqual(['documents/next-second.pdf']);
  });

  it('keeps an object until every instant of its LastModified second has expired, never a fraction early', async () => {
    // S3 shows 12:00:00 for a write at 12:00:00.700: it may be that recent.
    await put('documents/written.pdf', { lastModified: ms('2020-06-01T12:00:00.700') });
    const s3 = store();

    expect(await s3.count(rule(), expired([{ from: null, to: ms('2020-06-01T12:00:00.998') }]), CONTEXT)).toBe(0);
    expect((await sweep(s3, rule(), [{ from: null, to: ms('2020-06-01T12:00:00.998') }])).rows).toBe(0);
    expect(await keys()).toEqual(['documents/written.pdf']);

    expect((await sweep(s3, rule(), [{ from: null, to: ms('2020-06-01T12:00:00.999') }])).rows).toBe(1);
    expect(await keys()).toEqual([]);
  });

  it('counts an object with an implausible LastModified (a server clock in 1970) as unjudged and keeps it', async () => {
    await put('documents/epoch.pdf', { lastModified: 1_000 });
    await put('documents/old.pdf', { lastModified: ms('2020-01-01T00:00:00') });
    const s3 = store();

    expect(await s3.unjudged(rule())).toEqual({ 'implausible anchor': 1 });
    expect((await sweep(s3, rule(), EVERYTHING())).rows).toBe(1);
    expect(await keys()).toEqual(['documents/epoch.pdf']);
  });
});

describe('the s3 store, aged by a metadata key', () => {
  it('reads the anchor in the declared unit, whatever LastModified says', async () => {
    const old = ms('2020-03-01T00:00:00');
    const fresh = Date.now() - 1_000;
    await put('documents/ms-old.pdf', { metadata: { 'uploaded-at': String(old) } });
    await put('documents/ms-fresh.pdf', { metadata: { 'uploaded-at': String(fresh) }, lastModified: ms('2015-01-01T00:00:00') });
    const ranges = [{ from: null, to: ms('2021-01-01T00:00:00') }];

    expect((await sweep(store(), uploadedAt('ms'), ranges)).rows).toBe(1);
    expect(await keys()).toEqual(['documents/ms-fresh.pdf']);
  });

  it('reads epoch seconds and ISO instants, an ISO instant exactly at the bound expired and one a microsecond past it kept', async () => {
    await put('documents/s.pdf', { metadata: { 'uploaded-at': String(ms('2020-03-01T00:00:00') / 1000) } });
    const s = store();
    expect((await sweep(s, uploadedAt('s'), [{ from: null, to: ms('2021-01-01T00:00:00') }])).rows).toBe(1);

    await put('documents/at-bound.pdf', { metadata: { 'uploaded-at': '2020-06-01T14:00:00.123+02:00' } });
    await put('documents/past-bound.pdf', { metadata: { 'uploaded-at': '2020-06-01T12:00:00.123001Z' } });
    const bound = [{ from: null, to: ms('2020-06-01T12:00:00.123') }];
    expect((await sweep(s, uploadedAt('iso'), bound)).rows).toBe(1);
    expect(await keys()).toEqual(['documents/past-bound.pdf']);
  });

  it('counts missing, malformed and implausible anchors as unjudged and never deletes them', async () => {
    await put('documents/missing.pdf', { metadata: { 'other-key': '2020-01-01T00:00:00Z' } });
    await put('documents/words.pdf', { metadata: { 'uploaded-at': 'last tuesday' } });
    await put('documents/date-only.pdf', { metadata: { 'uploaded-at': '2020-01-01' } });
    await put('documents/no-offset.pdf', { metadata: { 'uploaded-at': '2020-01-01T00:00:00' } });
    await put('documents/february-30.pdf', { metadata: { 'uploaded-at': '2020-02-30T00:00:00Z' } });
    await put('documents/seconds-as-ms.pdf', { metadata: { 'uploaded-at': '1577836800' } }); // 2020 in seconds: 1970 as ms
    await put('documents/expired.pdf', { metadata: { 'uploaded-at': '2020-01-01T00:00:00Z' } });
    const s3 = store();
    const isoRule = uploadedAt('iso');
    const msRule = uploadedAt('ms');

    expect(await s3.unjudged(isoRule)).toEqual({ 'missing anchor': 1, 'malformed anchor': 5 });
    expect(await s3.unjudged(msRule)).toEqual({ 'missing anchor': 1, 'malformed anchor': 5, 'implausible anchor': 1 });
    expect((await sweep(s3, isoRule, EVERYTHING())).rows).toBe(1);
    expect((await sweep(s3, msRule, EVERYTHING())).rows).toBe(0);
    expect(await keys()).toHaveLength(6);
    expect(await keys()).not.toContain('documents/expired.pdf');
  });
});

describe('the s3 store stays inside its prefix', () => {
  it('never touches an expired object outside the prefix, even one whose key starts with the same letters', async () => {
    const old = ms('2020-01-01T00:00:00');
    for (const key of ['documents/old.pdf', 'documents/nested/deeper/old.pdf', 'documents-archive/old.pdf', 'documentsold.pdf', 'other/documents/old.pdf', 'old.pdf']) {
      await put(key, { lastModified: old });
    }
    const s3 = store();

    expect(await s3.total(rule())).toBe(2);
    expect((await sweep(s3, rule(), EVERYTHING())).rows).toBe(2);
    expect(await keys()).toEqual(['documents-archive/old.pdf', 'documentsold.pdf', 'old.pdf', 'other/documents/old.pdf']);
  });

  it('deletes keys with spaces, XML and URL metacharacters exactly, and not their look-alikes', async () => {
    const odd = ['documents/a b&c<d>.pdf', 'documents/100%+plus?.pdf', 'documents/ünïcode ✓.pdf'];
    for (const key of odd) await put(key, { lastModified: ms('2020-01-01T00:00:00') });
    await put('documents/a b&c<d>.pdf.keep', { lastModified: Date.now() });

    expect((await sweep(store(), rule(), [{ from: null, to: ms('2021-01-01T00:00:00') }])).rows).toBe(3);
    expect(await keys()).toEqual(['documents/a b&c<d>.pdf.keep']);
  });
});

describe('the s3 store deletes in DeleteObjects requests', () => {
  it('deletes more than 1,000 expired objects in several DeleteObjects requests of at most 1,000 keys', async () => {
    const total = 1_201;
    const names = Array.from({ length: total }, (_, i) => `documents/${String(i).padStart(5, '0')}.pdf`);
    for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((key) => put(key, { body: 'x' })));
    await put('kept/elsewhere.pdf', { body: 'x' });

    const result = await sweep(store(), rule(), EVERYTHING());

    expect(result).toEqual({ rows: total });
    expect(await keys()).toEqual(['kept/elsewhere.pdf']);
    const requests = await deleteRequests();
    expect(requests).toEqual([DELETE_BATCH, total - DELETE_BATCH]);
  }, 240_000);

  it('counts in a dry run exactly what the real run deletes, and a dry run deletes nothing', async () => {
    await put('documents/old-1.pdf', { metadata: { 'uploaded-at': '2020-01-01T00:00:00Z' } });
    await put('documents/old-2.pdf', { metadata: { 'uploaded-at': '2020-02-01T00:00:00Z' } });
    await put('documents/new.pdf', { metadata: { 'uploaded-at': '2029-01-01T00:00:00Z' } });
    await put('documents/bad.pdf', { metadata: { 'uploaded-at': 'soon' } });
    const s3 = store();
    const ranges = [{ from: null, to: ms('2025-01-01T00:00:00') }];

    const counted = await s3.count(uploadedAt('iso'), expired(ranges), CONTEXT);
    const dry = await sweep(s3, uploadedAt('iso'), ranges, true);
    expect(await keys()).toHaveLength(4);
    expect(await deleteRequests()).toEqual([]);
    const real = await sweep(s3, uploadedAt('iso'), ranges);

    expect([counted, dry.rows, real.rows]).toEqual([2, 2, 2]);
    expect(await keys()).toEqual(['documents/bad.pdf', 'documents/new.pdf']);
  });

  it('reports a key the server refuses to delete, with its error, and never counts it as deleted', async () => {
    // The test server refuses `held-*` keys per key (AccessDenied), as S3 does under an Object Lock hold.
    await put('documents/contract.pdf', { lastModified: ms('2020-01-01T00:00:00') });
    await put('documents/held-contract.pdf', { lastModified: ms('2020-01-01T00:00:00') });

    const result = await sweep(store(), rule(), EVERYTHING());

    expect(result.rows).toBe(1);
    expect(result.skipped).toEqual([{ key: 'documents/held-contract.pdf', reason: 'the server refused to delete it (AccessDenied)' }]);
    expect(await keys()).toEqual(['documents/held-contract.pdf']);
  });
});

describe('the s3 store re-checks an object just before deleting it', () => {
  const place = (): S3Place => ({ bucket: box.bucket, endpoint: box.server.endpoint, origin: ORIGIN });

  it('keeps an object whose metadata anchor was rewritten after it was judged, though its bytes and ETag are the same', async () => {
    await put('documents/reuploaded.pdf', { body: 'same bytes', metadata: { 'uploaded-at': '2020-01-01T00:00:00Z' } });
    const client = createS3Client(config(), TEST_CREDENTIALS, ORIGIN);
    try {
      const judged = await box.admin.send(new HeadObjectCommand({ Bucket: box.bucket, Key: 'documents/reuploaded.pdf' }));
      const object = { key: 'documents/reuploaded.pdf', etag: judged.ETag, second: floorSecond(judged.LastModified!), anchor: '2020-01-01T00:00:00Z' };
      expect(await recheckObjects(client, place(), { metadata: 'uploaded-at' }, [object])).toHaveLength(1);

      // Re-uploaded with the same bytes (same ETag) and a fresh anchor, in the same second.
      await put('documents/reuploaded.pdf', { body: 'same bytes', metadata: { 'uploaded-at': new Date().toISOString() } });
      await box.server.setLastModified(box.bucket, 'documents/reuploaded.pdf', object.second);
      const now = await box.admin.send(new HeadObjectCommand({ Bucket: box.bucket, Key: 'documents/reuploaded.pdf' }));
      expect(now.ETag).toBe(judged.ETag);

      expect(await recheckObjects(client, place(), { metadata: 'uploaded-at' }, [object])).toEqual([]);
    } finally {
      client.destroy();
    }
  });

  it('keeps an object overwritten with the same bytes after it was judged by LastModified, and one deleted meanwhile', async () => {
    await put('documents/rewritten.pdf', { body: 'same bytes', lastModified: ms('2020-01-01T00:00:00') });
    await put('documents/gone.pdf', { lastModified: ms('2020-01-01T00:00:00') });
    const client = createS3Client(config(), TEST_CREDENTIALS, ORIGIN);
    try {
      const listed = await box.admin.send(new ListObjectsV2Command({ Bucket: box.bucket, Prefix: 'documents/' }));
      const judged = (listed.Contents ?? []).map((o) => ({ key: o.Key!, etag: o.ETag, second: floorSecond(o.LastModified!) }));
      expect(await recheckObjects(client, place(), 'last-modified', judged)).toHaveLength(2);

      await put('documents/rewritten.pdf', { body: 'same bytes' });
      await box.admin.send(new DeleteObjectsCommand({ Bucket: box.bucket, Delete: { Objects: [{ Key: 'documents/gone.pdf' }] } }));

      expect(await recheckObjects(client, place(), 'last-modified', judged)).toEqual([]);
    } finally {
      client.destroy();
    }
  });
});

describe('the s3 store and versioned buckets', () => {
  it('refuses a versioned bucket at check and at every count and run, touching nothing, unless versions: delete-all is set', async () => {
    // The test server reports versioning Enabled for buckets named versioned-*.
    const versioned = uniqueBucket('versioned');
    await box.admin.send(new CreateBucketCommand({ Bucket: versioned }));
    try {
      await box.admin.send(new PutObjectCommand({ Bucket: versioned, Key: 'documents/old.pdf', Body: 'x' }));
      const s3 = store({ bucket: versioned });

      const problems = await s3.inspect(rule(), 'rules[0]', CONTEXT);
      expect(problems).toHaveLength(1);
      expect(problems[0]!.path).toBe('rules[0].store');
      expect(problems[0]!.message).toMatch(/versioning Enabled.*delete marker.*stores\.docs\.versions: delete-all/);
      await expect(s3.count(rule(), expired(EVERYTHING()), CONTEXT)).rejects.toBeInstanceOf(UserError);
      await expect(sweep(s3, rule(), EVERYTHING())).rejects.toBeInstanceOf(UserError);

      // With delete-all the store lists every version first; s3rver has no versions API, so the
      // run fails there, and never falls back to a plain delete that would leave the versions.
      expect(await store({ bucket: versioned, versions: 'delete-all' }).inspect(rule(), 'rules[0]', CONTEXT)).toEqual([]);
      await expect(sweep(store({ bucket: versioned, versions: 'delete-all' }), rule(), EVERYTHING())).rejects.toThrow(/ListObjectVersions/);

      const left = await box.admin.send(new ListObjectsV2Command({ Bucket: versioned }));
      expect(left.Contents?.map((o) => o.Key)).toEqual(['documents/old.pdf']);
    } finally {
      await box.drop(versioned);
    }
  });

  it('passes check on a bucket that was never versioned', async () => {
    expect(await store().inspect(rule(), 'rules[0]', CONTEXT)).toEqual([]);
  });
});

describe('the s3 store on failures', () => {
  it('throws a throttled or failing server (503 SlowDown) with a code the executor retries', async () => {
    const error = await store({ bucket: 'slowdown-bucket' }).count(rule(), expired(EVERYTHING()), CONTEXT).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EAGAIN' });
    expect(isTransient(error)).toBe(true);
    expect((error as Error).message).toContain('SlowDown');
  });

  it('throws an unreachable server with its network code, which the executor retries', async () => {
    const error = await store({ endpoint: 'http://127.0.0.1:1' }).count(rule(), expired(EVERYTHING()), CONTEXT).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECONNREFUSED' });
    expect(isTransient(error)).toBe(true);
  });

  it('refuses to run without credentials in the environment, naming the variables and sending nothing', async () => {
    await put('documents/old.pdf', { lastModified: ms('2020-01-01T00:00:00') });
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');

    const error = await sweep(store(), rule(), EVERYTHING()).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/stores\.docs\.bucket in test\.yaml: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set/);
    expect(await keys()).toEqual(['documents/old.pdf']);
  });

  it('names a bucket that does not exist as a user mistake, not a retry', async () => {
    const error = await store({ bucket: 'no-such-bucket-here' }).ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toContain('"no-such-bucket-here" does not exist');
    expect(isTransient(error)).toBe(false);
  });
});
