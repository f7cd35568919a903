import { createHash } from 'node:crypto';
import { TEXT_TYPES, type AnonymizeStrategy } from './strategy.js';

/** Keys shorter than this are refused: HMAC-SHA256 is only as strong as its key. */
export const MIN_HMAC_KEY_BYTES = 32;
const BLOCK = 64;
const HEX_DIGEST_LENGTH = 64;

/**
 * Keyed HMAC-SHA256, hex-encoded. The same input gives the same output under one key, so
 * records can still be joined, but without the key a value cannot be recovered by hashing
 * every plausible email or phone number (which reverses a plain hash).
 *
 * Computed inside PostgreSQL so an anonymize batch is one UPDATE: HMAC is built from the
 * built-in sha256() as H((K^opad) || H((K^ipad) || m)) (RFC 2104), with the padded keys
 * passed as bind values. No extension is needed and the key never appears in SQL text.
 */
export const hmacStrategy: AnonymizeStrategy = {
  name: 'hmac',
  description: 'replace text with its keyed HMAC-SHA256 (hex), key from $RETENTION_HMAC_KEY',
  problemWith: (column) => {
    if (!TEXT_TYPES.has(column.baseType)) return `column ${column.name} is ${column.type}; "hmac" writes 64 hex characters of text`;
    if (column.maxLength !== null && column.maxLength < HEX_DIGEST_LENGTH) {
      return `column ${column.name} is ${column.type}, too short for a 64-character HMAC`;
    }
    return undefined;
  },
  assign: ({ sql: column }, params, context) => {
    const { inner, outer } = hmacPads(requireKey(context.hmacKey));
    // Unlike the other strategies, hashing is not idempotent, and a row is updated when any
    // of its columns is pending: a value already hashed must be kept, not hashed again, or
    // it would no longer join with the rows hashed once.
    return `CASE WHEN ${isHashed(column)} THEN ${column} ELSE encode(sha256(${params.add(outer)}::bytea || sha256(${params.add(inner)}::bytea || convert_to(${column}::text, 'UTF8'))), 'hex') END`;
  },
  pending: ({ sql: column }) => `(${column} IS NOT NULL AND NOT ${isHashed(column)})`,
};

/**
 * A value that is already 64 lowercase hex digits is taken as done; no email, phone
 * number or name has that shape.
 */
function isHashed(column: string): string {
  return `${column} ~ '^[0-9a-f]{64}$'`;
}

function requireKey(key: Buffer | null): Buffer {
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
