import { afterAll, beforeAll, describe, it } from 'vitest';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import { BATCH_SIZE, FULL, ROWS, SCENARIO_TIMEOUT_MS, START_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';
import { ThrowawayPostgres, type PostgresStopMode } from './helpers/throwaway-postgres.js';
import { sleep } from './helpers/wait-for.js';

/** When PostgreSQL goes down (fraction of batches done) and how: fast = clean, immediate = crash. */
const RESTARTS: { at: number; mode: PostgresStopMode }[] = FULL
  ? [
      { at: 0.2, mode: 'fast' },
      { at: 0.55, mode: 'immediate' },
    ]
  : [{ at: 0.25, mode: 'fast' }];
/** How long the database stays down: long enough for batches to fail and be retried. */
const DOWN_MS = 3_000;

let postgres: ThrowawayPostgres;
beforeAll(async () => {
  postgres = await ThrowawayPostgres.start();
}, 180_000);
afterAll(async () => {
  await postgres?.destroy();
});

describe('PostgreSQL restarted mid-sweep', () => {
  it(
    'the workers ride out the outage and finish the sweep once the database is back',
    async () => {
      await runScenario(
        SCENARIOS.postgresRestart,
        // Table and state in the same throwaway database: batch and audit entry share a transaction.
        { rows: ROWS, batchSize: BATCH_SIZE, databaseUrl: postgres.url },
        async (world) => {
          const problems: string[] = [];
          const workers = [world.startWorker('worker-a'), world.startWorker('worker-b')];
          await Promise.all(workers.map((w) => w.waitForLog('worker started', START_TIMEOUT_MS)));
          await world.trigger();
          const restarts: string[] = [];
          for (const { at: fraction, mode } of RESTARTS) {
            const at = await world.waitForProgress(fraction, SWEEP_TIMEOUT_MS, workers);
            await postgres.stop(mode);
            // The outage itself: a fixed time is the fault being injected, not a wait for a state.
            await sleep(DOWN_MS);
            await postgres.start();
            restarts.push(`${mode} at ${at.done}/${at.total}`);
          }
          const after = await world.progress();
          if (after.done >= after.total) problems.push('the sweep finished before PostgreSQL went down: the restart proved nothing');
          await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, workers);
          for (const worker of workers) {
            if (!worker.running) problems.push(`${worker.name} exited: ${worker.describe()}`);
          }
          const retried = workers.flatMap((w) => w.logEntries()).filter((e) => e.msg === 'job failed').length;
          return { faults: `PostgreSQL stopped ${DOWN_MS / 1000} s and restarted ${restarts.length}x (${restarts.join(', ')}); ${retried} failed attempts retried`, problems };
        },
      );
    },
    SCENARIO_TIMEOUT_MS,
  );
});
