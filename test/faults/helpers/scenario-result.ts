import type { Verification } from './verify-scenario.js';

/**
 * The suite's scenarios by name. docs/reliability.md is written only from a run that has
 * them all (a run of one file must not overwrite the full summary).
 */
export const SCENARIOS = {
  workerKills: 'worker SIGKILL',
  adminKill: 'admin run SIGKILL, worker finishes',
  redisRestart: 'Redis restarted mid-sweep',
  postgresRestart: 'PostgreSQL restarted mid-sweep',
  tableLock: 'table lock held mid-sweep',
  concurrentTriggers: 'two workers + two admin runs at once',
} as const;

/** Scenarios the results do not cover; [] for a complete run. */
export function missingScenarios(results: readonly ScenarioResult[]): string[] {
  return Object.values(SCENARIOS).filter((name) => !results.some((r) => r.scenario.startsWith(name)));
}

/** One line of the summary table. */
export interface ScenarioResult extends Verification {
  scenario: string;
  /** The faults injected, e.g. "6 worker SIGKILLs + restarts (1 while planning)". */
  faults: string;
  /** Processes SIGKILLed while a sweep ran. */
  kills: number;
  /** FAULTS_SEED that replays the scenario's random choices. */
  seed: number;
  seconds: number;
  ok: boolean;
}

const HEADER = ['scenario', 'faults injected', 'rows', 'expired', 'deleted', 'audited', 'sweeps', 'batches', 'seed', 'seconds', 'result'];

function cells(r: ScenarioResult): string[] {
  return [
    r.scenario,
    r.faults,
    String(r.rows),
    String(r.expired),
    String(r.deleted),
    String(r.audited),
    String(r.sweeps),
    String(r.batches),
    String(r.seed),
    r.seconds.toFixed(1),
    r.ok ? 'pass' : `FAIL: ${r.problems.join('; ').replaceAll('|', '/')}`,
  ];
}

/** The results as a Markdown table, readable as plain text too. */
export function formatResults(results: readonly ScenarioResult[]): string {
  const rows = [HEADER, ...results.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(rows[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}
