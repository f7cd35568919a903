import { afterAll, beforeAll, describe, it } from 'vitest';
import { schedulerId } from '../../src/queue/queue-names.js';
import { FAULT_RULE_ID } from './helpers/fault-table.js';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import { BATCH_SIZE, FULL, ROWS, SCENARIO_TIMEOUT_MS, START_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';
import { ThrowawayRedis } from './helpers/throwaway-redis.js';
import { waitFor } from './helpers/wait-for.js';

/** Fractions of the sweep's batches at which Redis is killed and started again, empty. */
const RESTART_AT = FULL ? [0.2, 0.55] : [0.25];
/** A schedule that never fires during the test, so its scheduler is only registered. */
const NEVER_DURING_THE_TEST = '0 0 1 1 *';

let redis: ThrowawayRedis;
beforeAll(async () => {
  redis = await ThrowawayRedis.start();
});
afterAll(async () => {
  await redis?.stop();
});

describe('Redis restarted mid-sweep', () => {
  it(
    'loses every queued job, yet the workers re-queue the unfinished batches and re-register the schedulers',
    async () => {
      await runScenario(
        SCENARIOS.redisRestart,
        { rows: ROWS, batchSize: BATCH_SIZE, redisUrl: redis.url, schedule: NEVER_DURING_THE_TEST },
        async (world) => {
          const problems: string[] = [];
          const workers = [world.startWorker('worker-a'), world.startWorker('worker-b')];
          await Promise.all(workers.map((w) => w.waitForLog('worker started', START_TIMEOUT_MS)));
          const scheduler = schedulerId(FAULT_RULE_ID);
          if (!(await world.schedulers()).includes(scheduler)) problems.push(`the worker did not register scheduler ${scheduler}`);
          const admin = world.startRun('admin-run');
          const restarts: string[] = [];
          for (const fraction of RESTART_AT) {
            const at = await world.waitForProgress(fraction, SWEEP_TIMEOUT_MS, [...workers, admin]);
            await redis.restart();
            restarts.push(`${at.done}/${at.total}`);
          }
          const after = await world.progress();
          if (after.done >= after.total) problems.push('the sweep finished before Redis came back: the restart proved nothing');
          await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, workers);
          // Schedulers live in Redis too: the workers must put them back.
          await waitFor(async () => (await world.schedulers()).includes(scheduler), {
            what: `scheduler ${scheduler} to be registered again`,
            timeoutMs: 60_000,
          }).catch((error: unknown) => problems.push((error as Error).message));
          const status = await admin.finish(120_000);
          const [sweep] = await world.sweeps();
          if (status.code !== 0) problems.push(`the admin run exited ${status.code ?? status.signal}: ${admin.stderr().trim().slice(-500)}`);
          else {
            const reported = JSON.parse(admin.stdout()) as { rules: { affected: number }[] };
            if (reported.rules[0]?.affected !== sweep?.rowsAffected) {
              problems.push(`the admin run reported ${reported.rules[0]?.affected} rows, the sweep ${sweep?.rowsAffected}`);
            }
          }
          for (const worker of workers) {
            if (!worker.running) problems.push(`${worker.name} exited: ${worker.describe()}`);
          }
          return { faults: `Redis killed and restarted empty ${restarts.length}x (at ${restarts.join(', ')} batches); 2 workers + admin run`, problems };
        },
      );
    },
    SCENARIO_TIMEOUT_MS,
  );
});
