import { daysLeft } from './deadlines.js';

/** The deadlines of an open request, as the state database records them. */
export interface RequestDeadlineFacts {
  dueAt: Date;
  acknowledgeDueAt: Date | null;
  acknowledgedAt: Date | null;
}

/**
 * How pressing an open request is at `now`:
 * - `overdue`: past its (possibly extended) deadline;
 * - `due-soon`: due within `withinDays` calendar days in `zone` (0: due today), not overdue;
 * - `open`: neither.
 * `acknowledgementOverdue` on its own: receipt was to be acknowledged by a deadline that
 * has passed. Deadlines end at the end of a day (src/people/deadlines.ts), so a request
 * goes from due-soon to overdue at a day's change, never within a day.
 */
export interface RequestUrgency {
  urgency: 'overdue' | 'due-soon' | 'open';
  /** Calendar days to the due day, as `retention requests` shows them: negative when overdue. */
  daysLeft: number;
  acknowledgementOverdue: boolean;
}

export function requestUrgency(request: RequestDeadlineFacts, now: Date, zone: string, withinDays: number): RequestUrgency {
  const left = daysLeft(request.dueAt, now, zone);
  const overdue = request.dueAt.getTime() < now.getTime();
  return {
    urgency: overdue ? 'overdue' : left <= withinDays ? 'due-soon' : 'open',
    daysLeft: left,
    acknowledgementOverdue: request.acknowledgedAt === null && request.acknowledgeDueAt !== null && request.acknowledgeDueAt.getTime() < now.getTime(),
  };
}

/** How many open requests there are, and how many of them are pressing. */
export interface RequestCounts {
  open: number;
  dueSoon: number;
  overdue: number;
  acknowledgementOverdue: number;
}

/** Counts `open` (requests not completed) by urgency: each overdue or due-soon request is also counted in `open`. */
export function countRequests(open: readonly RequestDeadlineFacts[], now: Date, zone: string, withinDays: number): RequestCounts {
  const counts: RequestCounts = { open: open.length, dueSoon: 0, overdue: 0, acknowledgementOverdue: 0 };
  for (const request of open) {
    const { urgency, acknowledgementOverdue } = requestUrgency(request, now, zone, withinDays);
    if (urgency === 'overdue') counts.overdue++;
    else if (urgency === 'due-soon') counts.dueSoon++;
    if (acknowledgementOverdue) counts.acknowledgementOverdue++;
  }
  return counts;
}
