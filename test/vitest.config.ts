import { defineConfig } from 'vitest/config';

// Tests talk to the real PostgreSQL and Redis; each isolates itself (test/helpers/test-env.ts),
// so files run in parallel. Benchmarks are not tests: see `npm run bench`.
export default defineConfig({
  test: {
    root: new URL('..', import.meta.url).pathname,
    include: ['test/**/*.test.ts'],
    // $RETENTION_AUDIT_KEY for every test and the CLI processes tests spawn.
    setupFiles: ['test/helpers/audit-key-setup.ts', 'test/helpers/http-port-setup.ts', 'test/helpers/role-warnings-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
