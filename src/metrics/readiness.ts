import type { Config } from '../policy/config.js';
import { schedulerId } from '../queue/queue-names.js';
import type { QueueConnection } from '../queue/redis-connection.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { redactText } from '../redact.js';
import type { StateDb } from '../state/state-db.js';
import { withTimeout } from './cached-probe.js';

/** How long each check may take before it counts as not answering: a probe never hangs. */
export const READY_CHECK_TIMEOUT_MS = 2_000;

/** What `/readyz` answers: ready, or what is not (each with why). */
export interface Readiness {
  ready: boolean;
  /** Check name -> why it is not ready (absent when it is). */
  notReady: Record<string, string>;
}

/** What the checks talk to; absent parts (the worker still starting) are not ready. */
export interface ReadinessTargets {
  redis: QueueConnection;
  state: StateDb;
  queue: SweepQueue;
  config: Pick<Config, 'rules'>;
}

/**
 * Whether this worker can do its work now: Redis answers PING, the state PostgreSQL answers
 * a query, and every scheduled rule's job scheduler is in Redis (a Redis that restarted
 * empty has lost them until the worker registers them again) with this config's definition
 * of the rule. The stores' databases other than the state database are not checked (a
 * store that is down fails its batches, counted in retention_errors_total). Each check is bounded by
 * `READY_CHECK_TIMEOUT_MS`; all run at once.
 */
export async function checkReadiness(targets: ReadinessTargets | null, timeoutMs = READY_CHECK_TIMEOUT_MS): Promise<Readiness> {
  if (!targets) return { ready: false, notReady: { worker: 'starting: not connected yet' } };
  const checks: Record<string, () => Promise<string | null>> = {
    redis: async () => ((await targets.redis.ping()) === 'PONG' ? null : 'PING was not answered with PONG'),
    state: async () => {
      await targets.state.db.pool.query('SELECT 1');
      return null;
    },
    schedulers: () => missingSchedulers(targets),
  };
  const notReady: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const problem = await withTimeout(
        // The body is served to whoever reaches the port: no password from a URL in it.
        check().catch((error: unknown) => redactText((error as Error)?.message || String(error))),
        timeoutMs,
      );
      if (problem === undefined) notReady[name] = `no answer within ${timeoutMs} ms`;
      else if (problem !== null) notReady[name] = problem;
    }),
  );
  return { ready: Object.keys(notReady).length === 0, notReady };
}

/**
 * Null when every scheduled rule has its scheduler, carrying the rule's definition hash as
 * this worker's config has it; else which are missing and which carry another definition
 * (another worker, with another config, registered them last: its jobs would be refused
 * here, or sweep by a rule this config does not say).
 */
async function missingSchedulers(targets: ReadinessTargets): Promise<string | null> {
  const missing: string[] = [];
  const other: string[] = [];
  for (const rule of targets.config.rules) {
    if (rule.schedule.kind === 'manual') continue;
    const id = schedulerId(rule.id);
    const scheduler = await targets.queue.getJobScheduler(id);
    if (!scheduler) missing.push(id);
    else if ((scheduler.template?.data as { ruleHash?: unknown } | undefined)?.ruleHash !== rule.hash) other.push(rule.id);
  }
  const problems = [
    ...(missing.length > 0 ? [`not registered: ${missing.join(', ')}`] : []),
    ...(other.length > 0 ? [`registered with another definition of rule ${other.join(', ')} (another worker runs another config?)`] : []),
  ];
  return problems.length === 0 ? null : problems.join('; ');
}
