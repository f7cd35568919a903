import type { Rule } from '../policy/rule.js';
import { pendingNextExpiry } from './next-expiry-jobs.js';
import { schedulerId } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

/** When a scheduled rule is next swept, as the queue holds it. */
export interface NextRun {
  /**
   * The rule's job scheduler (registered by a worker): its next run, and whether it carries
   * the rule as this config defines it (`current` false: the worker that registered it runs
   * another definition, and a worker on this config would refuse its jobs). Null when no
   * scheduler is registered for the rule.
   */
  scheduler: { at: number | null; current: boolean } | null;
  /** The next-expiry sweep queued for the rule's current definition (src/queue/next-expiry-jobs.ts), or null. */
  nextExpiry: number | null;
}

/** Reads the rule's scheduler and pending next-expiry job; changes nothing. */
export async function nextRun(queue: SweepQueue, rule: Rule): Promise<NextRun> {
  const scheduler = await queue.getJobScheduler(schedulerId(rule.id));
  const data = scheduler?.template?.data as { ruleHash?: unknown } | undefined;
  return {
    scheduler: scheduler ? { at: typeof scheduler.next === 'number' ? scheduler.next : null, current: data?.ruleHash === rule.hash } : null,
    nextExpiry: await pendingNextExpiry(queue, rule),
  };
}
