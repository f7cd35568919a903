import { describe, it } from 'vitest';
import type { FaultWorld } from './helpers/fault-world.js';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import { BATCH_SIZE, ROWS, SCENARIO_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';

/**
 * A bigger table than the other short scenarios: the sweep must outlast the few seconds
 * between the two admin processes getting ready on a busy machine, or the second trigger
 * would find the first sweep finished and rightly start its own.
 */
const CONCURRENT_ROWS = Math.max(ROWS, 50_000);

interface RunReport {
  rules: { id: string; affected: number }[];
}

describe('two workers and two admin triggers at once', () => {
  it(
    'run one sweep of the rule, which the second trigger joins, with every batch done once',
    async () => {
      await runScenario(SCENARIOS.concurrentTriggers, { rows: CONCURRENT_ROWS, batchSize: BATCH_SIZE }, async (world) => {
        const problems: string[] = [];
        // All four at the same moment, as a deploy that restarts workers while two admins
        // react to the same ticket would.
        const workers = [world.startWorker('worker-a'), world.startWorker('worker-b')];
        const admins = [world.startRun('admin-run-1'), world.startRun('admin-run-2')];
        const statuses = await Promise.all(admins.map((a) => a.finish(SWEEP_TIMEOUT_MS)));
        await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, workers);
        const sweeps = await world.sweeps();
        if (sweeps.length !== 1) problems.push(`${sweeps.length} sweeps of the rule ran, not 1: ${await describeOverlap(world)}`);
        for (const [i, admin] of admins.entries()) {
          const status = statuses[i]!;
          if (status.code !== 0) {
            problems.push(`${admin.name} exited ${status.code ?? status.signal}: ${admin.stderr().trim().slice(-500)}`);
            continue;
          }
          const affected = (JSON.parse(admin.stdout()) as RunReport).rules[0]?.affected;
          if (affected !== sweeps[0]?.rowsAffected) problems.push(`${admin.name} reported ${affected} rows, the sweep ${sweeps[0]?.rowsAffected}`);
        }
        for (const worker of workers) {
          if (!worker.running) problems.push(`${worker.name} exited: ${worker.describe()}`);
        }
        const byWorkers = workers.flatMap((w) => w.logEntries()).filter((e) => e.msg === 'job done').length;
        return { faults: `2 workers + 2 admin runs started together; ${byWorkers} jobs worked by the workers, the rest by the runs`, problems };
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});

/** Whether the recorded sweeps ran at the same time (a join failed) or one after the other (a trigger came late). */
async function describeOverlap(world: FaultWorld): Promise<string> {
  const { rows } = await world.pool.query<{ id: string; created_at: Date; finished_at: Date | null }>(
    `SELECT id, created_at, finished_at FROM "${world.stateSchema}".sweeps ORDER BY created_at`,
  );
  const overlapping = rows.some((r, i) => i > 0 && (rows[i - 1]!.finished_at === null || r.created_at < rows[i - 1]!.finished_at!));
  const spans = rows.map((r) => `${r.id} ${r.created_at.toISOString()}..${r.finished_at?.toISOString() ?? 'running'}`).join(', ');
  return overlapping
    ? `they overlapped, so a trigger did not join the running sweep (${spans})`
    : `one started after the other had finished, so the triggers did not arrive together (${spans})`;
}
