import { defineConfig } from 'vitest/config';
import base from '../vitest.config.ts';

// `npm run test:faults`: the fault-injection scenarios only, one file at a time (each
// starts its own worker processes and servers; two at once would fight over 2 cores), with
// a global setup that prints the summary table and writes docs/reliability.md.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['test/faults/**/*.test.ts'],
    fileParallelism: false,
    globalSetup: ['test/faults/helpers/summary-setup.ts'],
    // The worker and admin processes a scenario starts inherit $RETENTION_AUDIT_KEY from it.
    setupFiles: ['test/helpers/audit-key-setup.ts', 'test/helpers/http-port-setup.ts', 'test/helpers/role-warnings-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
