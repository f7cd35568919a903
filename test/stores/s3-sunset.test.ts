import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { SUBJECT_PLACEHOLDER, type Rule } from '../../src/policy/rule.js';
import type { S3Store } from '../../src/stores/s3/s3-store.js';
import type { S3Target } from '../../src/stores/s3/s3-target.js';
import { everything, exceptHeld, expired, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { s3Rule, useS3Bucket } from './s3-fixture.js';

/**
 * A sunset's selection (`all`) on an S3 store, against a real S3-compatible server: every
 * object under the rule's prefix whatever its anchor (just written, a metadata anchor
 * missing, malformed or implausible), held subjects' objects kept and counted, and keys
 * outside the prefix never touched.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const box = useS3Bucket('sunset');

const put = (key: string, metadata?: Record<string, string>) => box.admin.send(new PutObjectCommand({ Bucket: box.bucket, Key: key, Body: key, Metadata: metadata }));
const apply = (s3: S3Store, r: Rule<S3Target>, selection: Selection): Promise<BatchResult> =>
  s3.apply({ rule: r, selection, keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });

describe('s3: a sunset selects every object of the rule, whatever its anchor', () => {
  it('deletes every object under the prefix, those whose metadata anchor is missing, malformed or implausible too', async () => {
    const uploadedAt = s3Rule({ anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso' });
    await put('documents/old.pdf', { 'uploaded-at': '2020-01-01T00:00:00Z' });
    // Dated tomorrow: not due to any sweep now, however slowly the test runs.
    await put('documents/new.pdf', { 'uploaded-at': new Date(Date.now() + 86_400_000).toISOString() });
    await put('documents/none.pdf');
    await put('documents/bad.pdf', { 'uploaded-at': 'last week' });
    await put('documents/ancient.pdf', { 'uploaded-at': '1990-01-01T00:00:00Z' });
    await put('documents-old/x.pdf', { 'uploaded-at': '2020-01-01T00:00:00Z' });
    await put('exports/y.pdf', { 'uploaded-at': '2020-01-01T00:00:00Z' });
    const s3 = box.store();
    expect(await s3.unjudged(uploadedAt)).toEqual({ 'missing anchor': 1, 'malformed anchor': 1, 'implausible anchor': 1 });
    expect(await s3.count(uploadedAt, expired([{ from: null, to: Date.now() }]), CONTEXT)).toBe(1);
    expect(await s3.count(uploadedAt, everything(), CONTEXT)).toBe(5);
    expect(await apply(s3, uploadedAt, everything())).toEqual({ rows: 5 });
    expect(await box.keys()).toEqual(['documents-old/x.pdf', 'exports/y.pdf']);
  });

  it("keeps held subjects' objects and counts them", async () => {
    const people = s3Rule({ prefix: 'photos/{subject}/' }, { id: 'photos', subject: SUBJECT_PLACEHOLDER });
    for (const key of ['photos/u1/a.jpg', 'photos/u1/b.jpg', 'photos/u2/c.jpg', 'photos/u3/d.jpg']) await put(key);
    const s3 = box.store();
    const selection = exceptHeld(everything(), ['u2']);
    expect(await s3.count(people, selection, CONTEXT)).toBe(3);
    expect(await apply(s3, people, selection)).toEqual({ rows: 3, held: 1 });
    expect(await box.keys()).toEqual(['photos/u2/c.jpg']);
  });
});
