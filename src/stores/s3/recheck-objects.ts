import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { translateError, type S3Place } from './connect.js';
import { floorSecond, sameEtag, type JudgedObject } from './judged-object.js';
import { mapLimit } from './map-limit.js';
import type { S3Target } from './s3-target.js';

/** HeadObject requests in flight at once, per page. */
export const HEAD_CONCURRENCY = 16;

export interface HeadResult {
  etag: string | undefined;
  second: number | null;
  metadata: Record<string, string>;
}

/** HeadObject: null when the object is gone. */
export async function headObject(client: S3Client, place: S3Place, key: string): Promise<HeadResult | null> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: place.bucket, Key: key }));
    return { etag: head.ETag, second: head.LastModified ? floorSecond(head.LastModified) : null, metadata: head.Metadata ?? {} };
  } catch (error) {
    const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return null;
    throw translateError(error, 'HeadObject', place);
  }
}

export const headObjects = (client: S3Client, place: S3Place, keys: readonly string[]): Promise<(HeadResult | null)[]> =>
  mapLimit(keys, HEAD_CONCURRENCY, (key) => headObject(client, place, key));

/**
 * The judged objects that still are what was judged: HEAD each again, immediately before
 * its DeleteObjects request, and keep it only if its ETag, its LastModified second and (for
 * a metadata rule) its anchor text are unchanged. S3 has no compare-and-delete on metadata
 * or LastModified, and an overwrite with the same bytes keeps the ETag, so the ETag alone
 * would not see a re-upload that refreshed the anchor.
 */
export async function recheckObjects(client: S3Client, place: S3Place, anchor: S3Target['anchor'], judged: readonly JudgedObject[]): Promise<JudgedObject[]> {
  const heads = await headObjects(
    client,
    place,
    judged.map((object) => object.key),
  );
  return judged.filter((object, i) => {
    const head = heads[i];
    if (!head) return false;
    if (!sameEtag(head.etag, object.etag) || head.second !== object.second) return false;
    return anchor === 'last-modified' || head.metadata[anchor.metadata] === object.anchor;
  });
}
