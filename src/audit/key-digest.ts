import { createHmac } from 'node:crypto';

/** Hex characters kept of a key digest: 96 bits, unique enough to tell rows apart in a report. */
const DIGEST_HEX_CHARS = 24;

/**
 * What the audit log and job data hold instead of a row's key value: a keyed HMAC-SHA256
 * of it. A key column can hold personal data (`key: email`), and the audit log can never
 * be cleaned, so raw values never go there; someone who holds the audit key and knows a
 * value can still find its entries by computing the digest.
 */
export function keyDigest(auditKey: Buffer, value: string): string {
  return createHmac('sha256', auditKey).update(value, 'utf8').digest('hex').slice(0, DIGEST_HEX_CHARS);
}
