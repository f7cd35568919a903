import { describe, expect, it } from 'vitest';
import { isTransient } from '../../src/executor/classify-error.js';

const pgError = (code: string) => Object.assign(new Error(`pg ${code}`), { code });

describe('isTransient', () => {
  it('retries lock timeouts, deadlocks, serialization failures and lost connections', () => {
    for (const code of ['55P03', '40P01', '40001', '57P01', '08006', '08001', 'ECONNREFUSED', 'ECONNRESET']) {
      expect(isTransient(pgError(code)), code).toBe(true);
    }
    expect(isTransient(new Error('Connection terminated unexpectedly'))).toBe(true);
  });

  it('does not retry configuration mistakes such as a missing table or column', () => {
    for (const code of ['42P01', '42703', '22P02', '23505']) expect(isTransient(pgError(code)), code).toBe(false);
    expect(isTransient(new Error('table logs of rule x does not exist in store app'))).toBe(false);
  });
});
