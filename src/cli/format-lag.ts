import { Duration } from 'luxon';

/** A lag for people: `4.2s`, `3m 20s`, `2d 5h 3m` (the three largest units). */
export function formatLag(ms: number): string {
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const d = Duration.fromMillis(ms).shiftTo('days', 'hours', 'minutes', 'seconds');
  const parts: [number, string][] = [[d.days, 'd'], [d.hours, 'h'], [d.minutes, 'm'], [Math.floor(d.seconds), 's']];
  const first = parts.findIndex(([n]) => n > 0);
  return parts.slice(first, first + 3).filter(([n]) => n > 0).map(([n, unit]) => `${n}${unit}`).join(' ');
}
