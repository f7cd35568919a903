import { createHmac } from 'node:crypto';
import { UserError } from '../errors.js';

/** The environment variable that holds the audit key. */
export const AUDIT_KEY_VARIABLE = 'RETENTION_AUDIT_KEY';

/** Keys shorter than this are refused: the chain is only as strong as its key. */
export const MIN_AUDIT_KEY_BYTES = 32;

/** The audit key from the environment, as bytes; null when unset or empty. */
export function auditKeyFrom(env: NodeJS.ProcessEnv): Buffer | null {
  const value = env[AUDIT_KEY_VARIABLE];
  return value ? Buffer.from(value, 'utf8') : null;
}

/** What is wrong with the audit key as given, or null when it can key the chain. */
export function auditKeyProblem(key: Buffer | null): string | null {
  const needs = `appending to and verifying the audit log need a secret of at least ${MIN_AUDIT_KEY_BYTES} bytes there, kept outside the databases (it keys the audit chain)`;
  if (key === null || key.length === 0) return `${AUDIT_KEY_VARIABLE} is not set: ${needs}`;
  if (key.length < MIN_AUDIT_KEY_BYTES) return `${AUDIT_KEY_VARIABLE} is ${key.length} bytes: ${needs}`;
  return null;
}

/** The audit key, or a UserError naming the variable (exit 2) before anything is touched. */
export function requireAuditKey(key: Buffer | null): Buffer {
  const problem = auditKeyProblem(key);
  if (problem !== null) throw new UserError(problem);
  return key!;
}

/**
 * One secret, separate keys per use: the chain's MACs and the checkpoints' signatures are
 * made under keys derived from it, so no value made for one use (nor a row key's digest,
 * `keyDigest`, made under the secret itself) can stand in for another.
 */
export function derivedKey(auditKey: Buffer | null, use: 'chain' | 'checkpoint'): Buffer {
  return createHmac('sha256', requireAuditKey(auditKey)).update(`retention audit ${use} v1`, 'utf8').digest();
}
