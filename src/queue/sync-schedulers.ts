import type { Config } from '../policy/config.js';
import { RULE_SHAPE_VERSION } from '../policy/rule.js';
import type { SweepJobData } from './job-data.js';
import { SWEEP_JOB_OPTIONS } from './job-options.js';
import { JOB_SWEEP, schedulerId } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

const SCHEDULER_PREFIX = schedulerId('');

/**
 * One BullMQ job scheduler per scheduled rule, naming the rule and its definition hash as
 * the worker's config has it; schedulers of rules that left the config (or became
 * manual) are removed, so a deleted rule stops sweeping. upsertJobScheduler is idempotent, so every worker start
 * (and every restart after Redis lost its keys) can call this.
 */
export async function syncSchedulers(queue: SweepQueue, config: Config): Promise<{ active: string[]; removed: string[] }> {
  const active: string[] = [];
  for (const rule of config.rules) {
    if (rule.schedule.kind === 'manual') continue;
    // The rule's id and definition hash only: the worker that runs the job looks the rule
    // up in its own config and refuses a job whose hash is not the config's.
    const data: SweepJobData = { trigger: 'schedule', ruleId: rule.id, ruleHash: rule.hash, v: RULE_SHAPE_VERSION };
    const repeat = rule.schedule.kind === 'every' ? { every: rule.schedule.ms } : { pattern: rule.schedule.pattern, tz: rule.timezone };
    await queue.upsertJobScheduler(schedulerId(rule.id), repeat, { name: JOB_SWEEP, data, opts: SWEEP_JOB_OPTIONS });
    active.push(schedulerId(rule.id));
  }
  const removed: string[] = [];
  for (const scheduler of await queue.getJobSchedulers(0, -1)) {
    const id = scheduler.key;
    if (id.startsWith(SCHEDULER_PREFIX) && !active.includes(id)) {
      await queue.removeJobScheduler(id);
      removed.push(id);
    }
  }
  return { active, removed };
}
