import { createHmac } from 'node:crypto';
import { requireAuditKey } from '../audit/audit-key.js';

/**
 * What requests, holds, receipts, the ledger, the audit log and job payloads hold instead
 * of a person's identifier: HMAC-SHA256 under a key derived from $RETENTION_AUDIT_KEY for
 * this use alone, in full (256 bits: the ledger matches people by it for good, so a
 * collision must be out of reach). Someone who knows the id and the key can recompute it
 * to check a receipt; without the key it reveals nothing, not even which ids are equal
 * across installations.
 */
export function subjectDigest(auditKey: Buffer | null, subject: string): string {
  const key = createHmac('sha256', requireAuditKey(auditKey)).update('retention subject digest v1', 'utf8').digest();
  return createHmac('sha256', key).update(subject, 'utf8').digest('hex');
}
