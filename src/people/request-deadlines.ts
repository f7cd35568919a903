import type { RequestPolicy } from '../policy/request-policy.js';
import { deadline } from './deadlines.js';

/** A request's deadlines, from the config's `requests:` policy and when it was received. */
export function requestDeadlines(policy: RequestPolicy, receivedAt: Date, zone: string): { due: Date; acknowledge: Date | null } {
  return {
    due: deadline(receivedAt, policy.due, zone),
    acknowledge: policy.acknowledge ? deadline(receivedAt, policy.acknowledge, zone) : null,
  };
}
