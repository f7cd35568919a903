import { describe, expect, it } from 'vitest';
import { WORKER_CONCURRENCY, type FaultWorld } from './helpers/fault-world.js';
import type { RetentionProcess } from './helpers/retention-process.js';
import { runScenario } from './helpers/run-scenario.js';
import { SCENARIOS } from './helpers/scenario-result.js';
import type { SeededRandom } from './helpers/seeded-random.js';
import { BATCH_SIZE, FULL, ROWS, SCENARIO_TIMEOUT_MS, START_TIMEOUT_MS, SWEEP_TIMEOUT_MS } from './helpers/suite-size.js';
import { localTcpPorts } from './helpers/local-tcp-ports.js';
import { GiveUp, sleep, waitFor } from './helpers/wait-for.js';

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
/**
 * Between two kills the gate lets a random number of batches commit, at most this share of
 * the sweep's batches over all the round's kills: every kill lands at a different point of
 * the sweep, and enough batches are always left for the next kill to find workers busy.
 */
const MAX_SHARE_LET_THROUGH = 0.5;

type Slot = 'a' | 'b';
const SLOTS: readonly Slot[] = ['a', 'b'];

interface KillLog {
  kills: number;
  whilePlanning: number;
  /** Batches the killed workers had started and not committed when they died. */
  batchesInFlight: number;
  problems: string[];
}

/**
 * Two workers sweep while the harness SIGKILLs them and restarts each one it killed. The
 * kills do not race the sweep: a gate in front of the table's DELETEs (BatchGate) is shut,
 * the harness picks a worker at random, waits until every batch slot of that worker holds
 * a batch at the gate (told apart by the connections' ports), and only then kills it: it
 * dies with its batches begun and uncommitted, on a machine of any speed. The gate then
 * lets a random number of batches commit before the next kill. Killed jobs come back when
 * their lock expires; the batches they had committed must not run again, those they had
 * not must still run.
 */
async function sweepUnderKills(world: FaultWorld, random: SeededRandom, killsWanted: number): Promise<KillLog> {
  const log: KillLog = { kills: 0, whilePlanning: 0, batchesInFlight: 0, problems: [] };
  const gate = await world.batchGate();
  await gate.close();
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
  const requireWorkers = () => {
    const gone = SLOTS.map((s) => workers[s]).find((w) => !w.running);
    if (gone) throw new GiveUp(`${gone.name} exited on its own:\n${gone.describe()}`);
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
  const planned = await waitFor(
    async () => {
      requireWorkers();
      const p = await world.progress();
      return p.total > 0 ? p : undefined;
    },
    { what: 'the sweep to be planned', timeoutMs: SWEEP_TIMEOUT_MS },
  );
  const maxLetThrough = Math.max(1, Math.floor((planned.total * MAX_SHARE_LET_THROUGH) / killsWanted));

  while (log.kills < killsWanted) {
    // Batches of a worker killed at the gate still wait there, holding their checkpoint
    // rows: let at least one batch through after a kill, so they move on and roll back.
    const letThrough = random.int(log.kills > 0 ? 1 : 0, maxLetThrough);
    if (letThrough > 0) {
      const target = (await world.progress()).done + letThrough;
      await gate.open();
      await waitFor(
        async () => {
          requireWorkers();
          return (await world.progress()).done >= target;
        },
        { what: `${letThrough} more batches to commit`, timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 20 },
      );
      await gate.close();
    }
    // Gate shut: batches can start but not commit. Wait until every slot of the victim
    // holds a batch at the gate.
    const slot = SLOTS[random.int(0, SLOTS.length - 1)]!;
    const victim = workers[slot];
    const ports = await waitFor(
      async () => {
        requireWorkers();
        if ((await gate.waiting()).includes(null)) throw new GiveUp('harness: a batch waits at the gate on a Unix-socket connection; the suite tells workers apart by TCP port');
        const held = localTcpPorts(victim.pid!);
        return (await gate.waitingFrom(held)) >= WORKER_CONCURRENCY ? held : undefined;
      },
      { what: `all ${WORKER_CONCURRENCY} batch slots of ${victim.name} to wait at the gate`, timeoutMs: SWEEP_TIMEOUT_MS, intervalMs: 50 },
    );
    const running = (await world.sweeps()).some((s) => s.status === 'running');
    if (!running) log.problems.push('harness: the sweep ended while the gate held its batches');
    await kill(slot);
    // The victim's batches still wait at the gate, uncommitted: it died mid-batch.
    const orphans = await gate.waitingFrom(ports);
    if (orphans < WORKER_CONCURRENCY) log.problems.push(`harness: ${victim.name} had ${orphans} batches at the gate after its kill, not ${WORKER_CONCURRENCY}`);
    log.batchesInFlight += orphans;
  }
  await gate.open();
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
          return {
            faults: `${log.kills} worker SIGKILLs + restarts (${log.whilePlanning} while planning, ${log.batchesInFlight} batches in flight)`,
            kills: log.kills,
            problems: log.problems,
          };
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
