import { createHash, createHmac } from 'node:crypto';
import type { AnonymizeStrategy } from './strategy.js';

/** Keys shorter than this are refused: HMAC-SHA256 is only as strong as its key. */
export const MIN_HMAC_KEY_BYTES = 32;
const BLOCK = 64;
/** Hex digits of HMAC(key, value) kept: 192 bits, far beyond any collision in one table. */
export const DIGEST_HEX = 48;
/** Hex digits of the tag that marks the digest as ours: 64 bits. */
export const TAG_HEX = 16;
export const OUTPUT_LENGTH = DIGEST_HEX + TAG_HEX;
/** Derives the tag key from the HMAC key, so one secret serves both and the tag cannot be made without it. */
const TAG_KEY_LABEL = 'retention hmac tag v1';

/**
 * Keyed HMAC-SHA256, hex-encoded. The same input gives the same output under one key, so
 * records can still be joined, but without the key a value cannot be recovered by hashing
 * every plausible email or phone number (which reverses a plain hash).
 *
 * What we write carries its own proof of origin: 48 hex digits of HMAC(key, value), then
 * 16 hex digits of HMAC(tagKey, those 48 digits). A value counts as already anonymized
 * only when its tag verifies under our key; anything else, however hashed it looks (a
 * plain sha256 of an email, an older version's output), is still personal data or may be,
 * and is hashed. A foreign value passes by chance with probability 2^-64.
 *
 * Computed inside the database so an anonymize batch is one UPDATE and the value never
 * leaves it: each SQL store builds HMAC from its built-in SHA-256 as
 * H((K^opad) || H((K^ipad) || m)) (RFC 2104), with the padded keys (`hmacPads`) passed as
 * bind values, so no extension is needed and the key never appears in SQL text.
 */
export const hmacStrategy: AnonymizeStrategy = {
  name: 'hmac',
  description: `replace text with a keyed HMAC-SHA256 (${OUTPUT_LENGTH} hex: digest and a tag proving it is ours), key from $RETENTION_HMAC_KEY`,
  transform: { kind: 'keyed-hash' },
  problemWith: (column) => {
    if (column.category !== 'text') return `column ${column.name} is ${column.type}; "hmac" writes ${OUTPUT_LENGTH} hex characters of text`;
    if (column.maxLength !== null && column.maxLength < OUTPUT_LENGTH) {
      return `column ${column.name} is ${column.type}, too short for a ${OUTPUT_LENGTH}-character HMAC`;
    }
    return undefined;
  },
};

/** What `hmac` writes for `value` under `key`, computed here: the reference the SQL must agree with. */
export function hmacValue(key: Buffer, value: string): string {
  const digest = createHmac('sha256', key).update(value, 'utf8').digest('hex').slice(0, DIGEST_HEX);
  return digest + createHmac('sha256', tagKey(key)).update(digest, 'utf8').digest('hex').slice(0, TAG_HEX);
}

/** The key of the tag, derived from the HMAC key: one secret serves both, and the tag cannot be made without it. */
export function tagKey(key: Buffer): Buffer {
  return createHmac('sha256', key).update(TAG_KEY_LABEL, 'utf8').digest();
}

/** The HMAC key, or an error naming the variable that must hold it. */
export function requireHmacKey(key: Buffer | null): Buffer {
  if (key === null || key.length < MIN_HMAC_KEY_BYTES) {
    throw new Error(`hmac needs $RETENTION_HMAC_KEY of at least ${MIN_HMAC_KEY_BYTES} bytes`);
  }
  return key;
}

/** The RFC 2104 inner and outer padded keys. */
export function hmacPads(key: Buffer): { inner: Buffer; outer: Buffer } {
  const k = Buffer.alloc(BLOCK);
  (key.length > BLOCK ? createHash('sha256').update(key).digest() : key).copy(k);
  const inner = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK);
  for (let i = 0; i < BLOCK; i++) {
    inner[i] = k[i]! ^ 0x36;
    outer[i] = k[i]! ^ 0x5c;
  }
  return { inner, outer };
}
