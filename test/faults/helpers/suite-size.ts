/**
 * How big the fault suite runs. `npm test` runs the short form (every scenario once, on a
 * smaller table, a few kills); `npm run test:faults` sets FAULTS_FULL=1 for the full one
 * (200,000 rows, at least 20 worker SIGKILLs, repeated restarts).
 */
export const FULL = process.env.FAULTS_FULL === '1';

/** Rows in every scenario's table. */
export const ROWS = FULL ? 200_000 : 20_000;

/**
 * Rows per batch: the smallest the config allows, so a sweep is many short transactions
 * and lasts long enough for faults to land inside it.
 */
export const BATCH_SIZE = 100;

/** Per-scenario vitest timeout. */
export const SCENARIO_TIMEOUT_MS = FULL ? 600_000 : 300_000;

/** Waiting for one sweep to finish after its faults (stalled jobs return after their lock expires). */
export const SWEEP_TIMEOUT_MS = 180_000;

/** A worker or admin process getting ready (loading, checking the config, migrating). */
export const START_TIMEOUT_MS = 60_000;
