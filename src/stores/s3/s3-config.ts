import { z } from 'zod';

/**
 * S3 bucket names as AWS allows them for new buckets: 3-63 lowercase letters, digits, `.`
 * and `-`, starting and ending with a letter or digit.
 */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Credentials come from the environment only, so a config file can be shown and committed. */
export const CREDENTIALS_HINT =
  'credentials are never read from the config file: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN if any) in the environment';

/** A credential-looking key in the config: refused by name, its value never echoed. */
const refusedCredential = z.never({ error: CREDENTIALS_HINT }).describe(`refused: ${CREDENTIALS_HINT}`).optional();

/**
 * `stores.NAME` of `kind: s3` (without `kind`). The endpoint is for S3-compatible servers
 * (MinIO, Ceph, a cloud's S3 API); absent, AWS S3 in `region`.
 */
export const s3ConfigSchema = z.strictObject({
  bucket: z.string({ error: 'bucket is required: the S3 bucket name' }).regex(BUCKET, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid bucket name (3-63 lowercase letters, digits, . and -)`,
  }).describe('the bucket'),
  endpoint: z
    .url({ protocol: /^https?$/, error: 'endpoint must be an http(s) URL, e.g. https://s3.eu-central-1.example.com' })
    .refine((url) => !/^https?:\/\/[^/]*@/.test(url), { error: `endpoint must not carry a user or password; ${CREDENTIALS_HINT}` })
    .describe('an S3-compatible server (MinIO, Ceph, another cloud), http(s), without credentials; absent: AWS S3 in region')
    .optional(),
  region: z
    .string({ error: 'region is required, e.g. eu-central-1 (any value your S3-compatible server accepts)' })
    .min(1, { error: 'region must not be empty' })
    .describe('the region, e.g. eu-central-1 (any value an S3-compatible server accepts)'),
  /** Path-style URLs (`endpoint/bucket/key`), as most S3-compatible servers need. Default false. */
  forcePathStyle: z
    .boolean({ error: 'forcePathStyle must be true or false' })
    .describe('path-style URLs (endpoint/bucket/key), as most S3-compatible servers need (default false)')
    .optional(),
  /**
   * What to do in a versioned bucket. Absent: refuse it (a plain delete there only writes a
   * delete marker and keeps the data). `delete-all`: delete every version of an expired key.
   */
  versions: z
    .enum(['delete-all'], { error: 'versions must be delete-all (or absent: a versioned bucket is refused)' })
    .describe('a versioned bucket: delete-all deletes every version of an expired key; absent, a versioned bucket is refused (a plain delete only writes a delete marker)')
    .optional(),
  accessKeyId: refusedCredential,
  secretAccessKey: refusedCredential,
  sessionToken: refusedCredential,
  credentials: refusedCredential,
}).describe('Objects in an S3 (or S3-compatible) bucket under a prefix, dated by LastModified or a user-metadata key. Credentials come from the environment only (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).');

export type S3StoreConfig = z.infer<typeof s3ConfigSchema>;
