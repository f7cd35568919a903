import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { requireAuditKey } from '../audit/audit-key.js';

/**
 * A person's identifier, encrypted (AES-256-GCM) under a key derived from
 * $RETENTION_AUDIT_KEY, for the time the stores still need to find them: an active hold
 * (its rows must be excluded by value) or an open request (its rows must be selected by
 * value, through the subject's index rather than a digest of every row). The database
 * never holds the identifier in clear; a completed request drops the sealed copy.
 *
 * Layout: 12-byte nonce, 16-byte tag, ciphertext.
 */
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

function sealKey(auditKey: Buffer | null): Buffer {
  return createHmac('sha256', requireAuditKey(auditKey)).update('retention subject seal v1', 'utf8').digest();
}

export function sealSubject(auditKey: Buffer | null, subject: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', sealKey(auditKey), nonce);
  const body = Buffer.concat([cipher.update(subject, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, cipher.getAuthTag(), body]);
}

/** The identifier; throws when the key is not the one it was sealed under, or the bytes were altered. */
export function unsealSubject(auditKey: Buffer | null, sealed: Buffer): string {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw new Error('a sealed subject is shorter than its nonce and tag');
  const decipher = createDecipheriv('aes-256-gcm', sealKey(auditKey), sealed.subarray(0, NONCE_BYTES));
  decipher.setAuthTag(sealed.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('a sealed subject cannot be opened with this RETENTION_AUDIT_KEY (another key, or altered bytes)');
  }
}
