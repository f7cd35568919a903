import type { Unjudged } from '../stores/store.js';

/** "3 (null anchor 2, malformed anchor 1)", or "0": items a sweep keeps because their anchor cannot be judged. */
export function formatUnjudged(unjudged: Unjudged): string {
  const reasons = Object.entries(unjudged)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  const total = reasons.reduce((sum, [, n]) => sum + n, 0);
  return total === 0 ? '0' : `${total} (${reasons.map(([reason, n]) => `${reason} ${n}`).join(', ')})`;
}
