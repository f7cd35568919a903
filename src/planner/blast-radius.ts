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
 * The limits judged with as little counting as they need: the table's total is asked for
 * only when the fraction limit applies (over FRACTION_FLOOR_ROWS affected, maxFraction
 * below 1, the row limit not already exceeded), and then only up to the first count that
 * settles it: once the table holds `floor(affected / maxFraction) + 1` items, the fraction
 * is below the limit whatever the rest. A steady-state sweep of a few thousand rows of a
 * 400M-row table so counts a few thousand more, not 400M (`Store.total`'s `atLeast`).
 * A blocked sweep shows the exact total (an exact count is only skipped when it passes).
 */
export async function judgeLimits(
  limits: Limits,
  affected: number,
  total: (atLeast?: number) => Promise<number>,
): Promise<{ reason: string | null; total: number | null }> {
  const byRows = exceedsLimits({ ...limits, maxFraction: 1 }, affected, 0);
  if (byRows !== null) return { reason: byRows, total: await total() };
  if (affected <= FRACTION_FLOOR_ROWS || limits.maxFraction >= 1) return { reason: null, total: null };
  const atLeast = Math.floor(affected / limits.maxFraction) + 1;
  // A tiny maxFraction can ask for more rows than a count can name: then count them all.
  const counted = await total(Number.isSafeInteger(atLeast) ? atLeast : undefined);
  return { reason: exceedsLimits(limits, affected, counted), total: counted };
}

/**
 * A confirmation for one rule definition and count: `<count>.<check>`. It allows a sweep of
 * at most that many rows of the rule as resolved (its definition hash, `Rule.hash`: after
 * `${VAR}` interpolation, with its store); a bigger sweep, or any change to what the rule
 * selects, where, or does, needs a new one, even when the file's text is unchanged. It
 * guards against mistakes, not against an attacker who can run the CLI.
 */
export function confirmToken(ruleHash: string, affected: number): string {
  return `${affected}.${check(ruleHash, affected)}`;
}

/** True when `token` confirms a sweep of `affected` rows of the rule with this definition hash. */
export function tokenAllows(token: string, ruleHash: string, affected: number): boolean {
  const match = /^(\d+)\.([0-9a-f]{10})$/.exec(token);
  if (!match) return false;
  const confirmed = Number(match[1]);
  return match[2] === check(ruleHash, confirmed) && affected <= confirmed;
}

function check(ruleHash: string, affected: number): string {
  return createHash('sha256').update(`${ruleHash}\n${affected}`).digest('hex').slice(0, 10);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.01 ? 2 : 0)}%`;
}
