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
  /** `--confirm TOKEN`: allows a sweep over the rule's limits up to the confirmed count. */
  confirm?: string;
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
  /** Set when the sweep stopped before touching anything because it exceeds its limits. */
  blocked?: BlockedSweep;
}

export interface BlockedSweep {
  affected: number;
  total: number;
  reason: string;
  /** Pass as `--confirm` to allow this sweep (and any not bigger). */
  confirmToken: string;
}
