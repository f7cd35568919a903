import { FaultWorld, type WorldOptions } from './fault-world.js';
import { recordScenario } from './scenario-report.js';
import type { ScenarioResult } from './scenario-result.js';
import { SeededRandom } from './seeded-random.js';
import { verifyScenario, type Verification } from './verify-scenario.js';

/** What a scenario's body reports: the faults it injected and what it saw go wrong. */
export interface ScenarioOutcome {
  faults: string;
  /** Processes SIGKILLed while the sweep ran, for the suite's total. */
  kills?: number;
  /** Fault-specific failures (a worker that crashed, a retry that never happened). */
  problems?: string[];
}

/**
 * Runs one scenario in a fresh world: the body injects its faults and waits for the
 * sweep, then the common checks run (verifyScenario), the result line is recorded (pass
 * or fail, also when the body threw) and the world is cleaned up. Throws when anything
 * is wrong, naming every problem.
 */
export async function runScenario(
  scenario: string,
  options: WorldOptions,
  body: (world: FaultWorld, random: SeededRandom) => Promise<ScenarioOutcome>,
): Promise<ScenarioResult> {
  const started = Date.now();
  const random = SeededRandom.fromEnv();
  const world = await FaultWorld.create(options);
  let failed = true;
  let faults = 'none (did not get that far)';
  let kills = 0;
  let verification: Verification = { rows: options.rows, expired: 0, deleted: 0, audited: 0, sweeps: 0, batches: 0, problems: [] };
  const problems: string[] = [];
  try {
    try {
      const outcome = await body(world, random);
      faults = outcome.faults;
      kills = outcome.kills ?? 0;
      problems.push(...(outcome.problems ?? []));
      // Nothing may keep running into the checks: stop what the body left (gracefully).
      await world.stopAll();
      verification = await verifyScenario(world);
      problems.push(...verification.problems);
    } catch (error) {
      problems.push((error as Error).message.split('\n')[0]!);
      throw error;
    } finally {
      const result: ScenarioResult = {
        scenario,
        faults,
        kills,
        seed: random.seed,
        seconds: (Date.now() - started) / 1000,
        ...verification,
        problems,
        ok: problems.length === 0,
      };
      recordScenario(result);
      failed = !result.ok;
    }
    if (problems.length > 0) throw new Error(`${scenario}: ${problems.length} problem(s):\n- ${problems.join('\n- ')}`);
    return { scenario, faults, kills, seed: random.seed, seconds: (Date.now() - started) / 1000, ...verification, problems, ok: true };
  } finally {
    await world.cleanup({ failed });
  }
}
