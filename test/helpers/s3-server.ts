import { randomBytes } from 'node:crypto';
import { LOOPBACK_S3_CREDENTIALS, startS3Server, type LoopbackS3 } from '../../scripts/loopback-s3.js';

/**
 * The tests' S3-compatible server: the loopback s3rver the demo also runs
 * (scripts/loopback-s3.ts and scripts/loopback-s3-server.mjs, which say what its front adds
 * for the tests: `held-` keys, `versioned-` and `slowdown-` buckets, `/__stats/BUCKET`).
 */
export { startS3Server };
export type S3TestServer = LoopbackS3;

/** The credentials the test server accepts (s3rver's fixed account). */
export const TEST_CREDENTIALS = LOOPBACK_S3_CREDENTIALS;

/** A bucket name of its own for one test: 3-63 lowercase characters. */
export function uniqueBucket(prefix = 'test'): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}
