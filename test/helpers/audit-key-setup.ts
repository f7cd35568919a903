/**
 * Vitest setup file (test/vitest.config.ts `setupFiles`): every command that appends to or
 * verifies the audit log needs $RETENTION_AUDIT_KEY, so tests and the processes they spawn
 * get this test-only key unless the environment already has one.
 */

/** 42 bytes, above the 32 the audit key needs. Tests only. */
export const TEST_AUDIT_KEY = 'test-audit-key-0123456789abcdef-0123456789';

if (!process.env.RETENTION_AUDIT_KEY) process.env.RETENTION_AUDIT_KEY = TEST_AUDIT_KEY;
