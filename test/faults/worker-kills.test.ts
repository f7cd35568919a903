import { describe, expect, it } from 'vitest';
import type { FaultWorld } from './helpers/fault-world.js';
import type { RetentionProcess } from './helpers/retention-process.js';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import type { SeededRandom } from './helpers/seeded-random.js';
import { BATCH_SIZE, FULL, ROWS, SCENARIO_TIMEOUT_MS, START_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';
import { sleep, waitFor } from './helpers/wait-for.js';

/** SIGKILLs the whole suite must land while a sweep runs. */
const KILLS_WANTED = FULL ? 24 : 2;
/** SIGKILLs in one sweep at most: the rest go to the next round, on a fresh table. */
const KILLS_PER_ROUND = FULL ? 8 : 2;
const MAX_ROUNDS = 10;
/**
 * Each round of the full suite opens by killing both workers while the sweep job is
 * planning (the short form skips it: the killed sweep job waits out its lock).
 */
const KILL_WHILE_PLANNING = FULL;
/** The planning kill lands within this long after the sweep job became active. */
const MAX_PLANNING_KILL_DELAY_MS = 150;
/** After a worker has shown it is sweeping, it is killed within this long. */
const MAX_KILL_DELAY_MS = 1_500;

type Slot = 'a' | 'b';
const SLOTS: readonly Slot[] = ['a', 'b'];

interface KillLog {
  kills: number;
  whilePlanning: number;
  problems: string[];
}

/**
 * Two workers sweep while the harness SIGKILLs them at random moments and restarts each
 * one it killed. Killed jobs come back when their lock expires; the batches they had
 * committed must not run again, those they had not must still run.
 */
async function sweepUnderKills(world: FaultWorld, random: SeededRandom, killsWanted: number): Promise<KillLog> {
  const log: KillLog = { kills: 0, whilePlanning: 0, problems: [] };
  const generation: Record<Slot, number> = { a: 1, b: 1 };
  const workers: Record<Slot, RetentionProcess> = { a: world.startWorker('worker-a-1'), b: world.startWorker('worker-b-1') };
  await Promise.all(SLOTS.map((s) => workers[s].waitForLog('worker started', START_TIMEOUT_MS)));

  const kill = async (slot: Slot) => {
    const victim = workers[slot];
    if (!victim.running) log.problems.push(`${victim.name} exited on its own before it was killed: ${victim.describe()}`);
    const status = await victim.kill('SIGKILL');
    if (status.signal !== 'SIGKILL') log.problems.push(`${victim.name} was not ended by SIGKILL but ${JSON.stringify(status)}`);
    log.kills++;
    generation[slot]++;
    workers[slot] = world.startWorker(`worker-${slot}-${generation[slot]}`);
  };
  const finished = async () => {
    const sweeps = await world.sweeps();
    return sweeps.length > 0 && sweeps.every((s) => s.status !== 'running');
  };

  const jobId = await world.trigger();
  if (KILL_WHILE_PLANNING && killsWanted >= 2) {
    // Whichever worker took the sweep job dies mid-plan: both go.
    await waitFor(async () => (await world.jobState(jobId)) === 'active' || (await world.progress()).sweeps > 0, {
      what: 'the sweep job to start',
      timeoutMs: START_TIMEOUT_MS,
      intervalMs: 20,
    });
    await sleep(random.int(0, MAX_PLANNING_KILL_DELAY_MS));
    const planned = (await world.progress()).sweeps > 0;
    await Promise.all(SLOTS.map(kill));
    if (!planned) log.whilePlanning += SLOTS.length;
  }
  while (log.kills < killsWanted && !(await finished())) {
    // A victim that is really sweeping (it has finished a job since it started), killed at
    // a random moment after that.
    const busy = await waitFor(
      async () => {
        const candidates = SLOTS.filter((s) => workers[s].logEntries().some((e) => e.msg === 'job done'));
        if (candidates.length > 0) return candidates;
        return (await finished()) ? 'finished' : false;
      },
      { what: 'a worker to work a batch', timeoutMs: SWEEP_TIMEOUT_MS },
    );
    if (busy === 'finished') break;
    await sleep(random.int(0, MAX_KILL_DELAY_MS));
    if (await finished()) break;
    await kill(busy[random.int(0, busy.length - 1)]!);
  }
  await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, SLOTS.map((s) => workers[s]));
  // A graceful stop after all that: SIGTERM, the batch in flight finishes, exit 0.
  for (const slot of SLOTS) {
    const status = await workers[slot].kill('SIGTERM');
    if (status.code !== 0) log.problems.push(`${workers[slot].name} did not stop cleanly on SIGTERM: ${JSON.stringify(status)}`);
  }
  return log;
}

describe('SIGKILL mid-sweep', () => {
  it(
    'workers killed at random points and restarted still delete exactly the expired rows, each batch once',
    async () => {
      let kills = 0;
      for (let round = 1; kills < KILLS_WANTED && round <= MAX_ROUNDS; round++) {
        await runScenario(`${SCENARIOS.workerKills}, round ${round}`, { rows: ROWS, batchSize: BATCH_SIZE }, async (world, random) => {
          const log = await sweepUnderKills(world, random, Math.min(KILLS_PER_ROUND, KILLS_WANTED - kills));
          kills += log.kills;
          if (log.kills === 0) log.problems.push('the sweep finished before any worker could be killed');
          return { faults: `${log.kills} worker SIGKILLs + restarts (${log.whilePlanning} while planning)`, kills: log.kills, problems: log.problems };
        });
      }
      expect(kills, 'SIGKILLs landed while sweeping').toBeGreaterThanOrEqual(KILLS_WANTED);
    },
    SCENARIO_TIMEOUT_MS,
  );

  // The full suite only: the short form keeps `npm test` near a minute.
  it.runIf(FULL)(
    'an admin `run` killed mid-sweep leaves a sweep that a worker finishes',
    async () => {
      await runScenario(SCENARIOS.adminKill, { rows: ROWS, batchSize: BATCH_SIZE }, async (world, random) => {
        const problems: string[] = [];
        const admin = world.startRun('admin-run');
        const fraction = 0.1 + random.next() * 0.4;
        const at = await world.waitForProgress(fraction, SWEEP_TIMEOUT_MS, [admin]);
        const status = await admin.kill('SIGKILL');
        if (status.signal !== 'SIGKILL') problems.push(`the admin run was not ended by SIGKILL but ${JSON.stringify(status)}`);
        const left = await world.sweeps();
        if (!left.some((s) => s.status === 'running')) problems.push('the sweep finished before the admin run could be killed');
        const worker = world.startWorker('worker');
        await world.waitForSweepsDone(SWEEP_TIMEOUT_MS, [worker]);
        const stopped = await worker.kill('SIGTERM');
        if (stopped.code !== 0) problems.push(`the worker did not stop cleanly on SIGTERM: ${JSON.stringify(stopped)}`);
        return { faults: `admin run SIGKILLed at ${at.done}/${at.total} batches; 1 worker started after`, kills: 1, problems };
      });
    },
    SCENARIO_TIMEOUT_MS,
  );
});
