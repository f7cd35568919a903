import pg from 'pg';
import { describe, it } from 'vitest';
import { LOCK_TIMEOUT_MS } from '../../src/stores/postgres/connect.js';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import { BATCH_SIZE, FULL, ROWS, SCENARIO_TIMEOUT_MS, START_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';
import { sleep, waitFor } from './helpers/wait-for.js';

/** How long the conflicting lock is held: several lock timeouts, so retries meet it again. */
const HOLD_MS = FULL ? 8_000 : 5_000;
const LOCK_TIMEOUT_MESSAGE = /lock timeout/i;
/** Why a worker says a job attempt failed: `reason` in its log line (`err` in earlier versions). */
const failure = (entry: { reason?: unknown; err?: unknown }) => String(entry.reason ?? entry.err);

describe('a conflicting table lock mid-sweep', () => {
  it(
    'makes batches give up after lock_timeout and retry with backoff, committing nothing until it is released',
    async () => {
      await runScenario(SCENARIOS.tableLock, { rows: ROWS, batchSize: BATCH_SIZE }, async (world) => {
        const problems: string[] = [];
        const workers = [world.startWorker('worker-a'), world.startWorker('worker-b')];
        await Promise.all(workers.map((w) => w.waitForLog('worker started', START_TIMEOUT_MS)));
        await world.trigger();
        const at = await world.waitForProgress(0.2, SWEEP_TIMEOUT_MS, workers);

        // What an application's migration or a careless admin would do.
        const holder = new pg.Client({ connectionString: world.databaseUrl });
        holder.on('error', () => undefined);
        await holder.connect();
        const timedOut = () => workers.flatMap((w) => w.logEntries()).filter((e) => e.msg === 'job failed' && LOCK_TIMEOUT_MESSAGE.test(failure(e)));
        let heldFor = 0;
        try {
          await holder.query('BEGIN');
          await holder.query(`SET LOCAL lock_timeout = '60s'`);
          await holder.query(`LOCK TABLE ${world.table.qualified} IN ACCESS EXCLUSIVE MODE`);
          const lockedAt = Date.now();
          const doneWhenLocked = (await world.progress()).done;
          // Batches that met the lock must report lock_timeout, well within the hold.
          await waitFor(() => timedOut().length > 0, { what: 'a batch to hit lock_timeout', timeoutMs: HOLD_MS + 10_000 }).catch((error: unknown) =>
            problems.push((error as Error).message),
          );
          const firstTimeout = Date.now() - lockedAt;
          if (firstTimeout < LOCK_TIMEOUT_MS - 200) problems.push(`a batch gave up ${firstTimeout} ms into the lock, before lock_timeout (${LOCK_TIMEOUT_MS} ms)`);
          // The hold itself is the injected fault: a fixed time, then release.
          await sleep(Math.max(0, HOLD_MS - (Date.now() - lockedAt)));
          const doneBeforeRelease = (await world.progress()).done;
          if (doneBeforeRelease !== doneWhenLocked) problems.push(`${doneBeforeRelease - doneWhenLocked} batches completed while the table was locked`);
          heldFor = Date.now() - lockedAt;
        } finally {
          await holder.query('ROLLBACK').catch(() => undefined);
          await holder.end().catch(() => undefined);
        }
        await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, workers);
        const timeouts = timedOut().length;
        if (timeouts === 0) problems.push('no batch attempt failed with a lock timeout');
        const other = workers.flatMap((w) => w.logEntries()).filter((e) => e.msg === 'job failed' && !LOCK_TIMEOUT_MESSAGE.test(failure(e)));
        if (other.length > 0) problems.push(`${other.length} attempts failed for another reason, e.g. ${failure(other[0]!)}`);
        return {
          faults: `ACCESS EXCLUSIVE lock held ${(heldFor / 1000).toFixed(1)} s from ${at.done}/${at.total} batches; ${timeouts} attempts hit lock_timeout and were retried`,
          problems,
        };
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
