import { createHash } from 'node:crypto';
import type { Limits } from '../policy/rule.js';

/**
 * Below this many rows the fraction limit is not applied: sweeping 3 of a 10-row table is
 * 30% but no accident. The row limit (maxRowsPerRun) still applies.
 */
export const FRACTION_FLOOR_ROWS = 1_000;

/** Why a sweep of `affected` out of `total` rows exceeds the limits, or null when it does not. */
export function exceedsLimits(limits: Limits, affected: number, total: number): string | null {
  if (limits.maxRowsPerRun !== null && affected > limits.maxRowsPerRun) {
    return `would change ${affected} rows, more than maxRowsPerRun ${limits.maxRowsPerRun}`;
  }
  if (affected > FRACTION_FLOOR_ROWS && total > 0 && affected / total > limits.maxFraction) {
    return `would change ${affected} of ${total} rows (${percent(affected / total)}), more than maxFraction ${limits.maxFraction} (${percent(limits.maxFraction)})`;
  }
  return null;
}

/**
 * A confirmation for one rule, config and count: `<count>.<check>`. It allows a sweep of
 * at most that many rows under that exact config; a bigger sweep, or any config change,
 * needs a new one. It guards against mistakes, not against an attacker who can run the CLI.
 */
export function confirmToken(ruleId: string, configHash: string, affected: number): string {
  return `${affected}.${check(ruleId, configHash, affected)}`;
}

/** True when `token` confirms a sweep of `affected` rows of this rule under this config. */
export function tokenAllows(token: string, ruleId: string, configHash: string, affected: number): boolean {
  const match = /^(\d+)\.([0-9a-f]{10})$/.exec(token);
  if (!match) return false;
  const confirmed = Number(match[1]);
  return match[2] === check(ruleId, configHash, confirmed) && affected <= confirmed;
}

function check(ruleId: string, configHash: string, affected: number): string {
  return createHash('sha256').update(`${ruleId}\n${configHash}\n${affected}`).digest('hex').slice(0, 10);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 ? 2 : 0)}%`;
}
