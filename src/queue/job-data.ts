import type { Rule } from '../policy/rule.js';

/**
 * Payloads carry rule definitions, ids and indexes only: never row data, key values or
 * secrets. A batch reads its key range from the state database.
 */
export interface SweepJobData {
  rule: Rule;
  configHash: string;
  actor: string;
  trigger: 'schedule' | 'manual';
  dryRun: boolean;
}

export interface BatchJobData {
  sweepId: string;
  idx: number;
}

/** What a sweep job returns: the sweep that ran (its own, or the running one it joined). */
export interface SweepJobResult {
  sweepId: string;
  joined: boolean;
  batches: number;
}
