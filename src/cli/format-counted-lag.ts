import type { CountedLag } from '../report/counted-lag.js';
import { formatLag } from './format-lag.js';

const MINUTE = 60_000;

/** Floored to the minute: "more than" it stays true. */
export const floorToMinute = (ms: number) => Math.floor(ms / MINUTE) * MINUTE;

/** Rounded up to the minute: "under" it stays true. */
const ceilToMinute = (ms: number) => Math.ceil(ms / MINUTE) * MINUTE;

/**
 * A lag read by counting (`countedLag`), for people: `0` when nothing expired is present,
 * else never a figure it cannot know: `over T LATE`, `under T`, or the expired items
 * present when the rule is not judged (manual, on hold).
 */
export function countedLagText(lag: CountedLag): string {
  if (lag.late !== null && lag.late > 0) return `over ${formatLag(floorToMinute(lag.thresholdMs!))} LATE`;
  if (lag.pending === 0) return '0';
  if (lag.thresholdMs !== null) return `under ${formatLag(ceilToMinute(lag.thresholdMs))}`;
  return `${lag.pending} expired item${lag.pending === 1 ? '' : 's'}`;
}
