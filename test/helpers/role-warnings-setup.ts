/**
 * Vitest setup file (test/vitest.config.ts `setupFiles`): the tests connect as the local
 * superuser `postgres`, and `retention check` warns of that at every run
 * (src/stores/postgres/role-privileges.ts). The tests that assert what `check` prints would
 * all see the warning, so it is off for every test and the processes they spawn
 * (`RETENTION_ROLE_WARNINGS=off`, as a development deployment may set it) unless the
 * environment already says otherwise; test/cli/role-warnings.test.ts turns it back on.
 */
if (process.env.RETENTION_ROLE_WARNINGS === undefined) process.env.RETENTION_ROLE_WARNINGS = 'off';
