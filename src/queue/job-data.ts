/**
 * Payloads carry ids and hashes only: never rule definitions, row data, key values,
 * secrets, actors or confirmations. Anyone who can write to Redis can add a job, so a
 * worker takes nothing from one on trust: it runs only rules of its own loaded config
 * (looked up by id, checked by definition hash), and who asked for a manual sweep, with
 * which flags, is read from the trigger row `retention run` wrote to the state database.
 */
export type SweepJobData =
  /** `retention run`: the id of its row in the state database's `triggers`. */
  | { trigger: 'manual'; triggerId: string }
  /** A job scheduler: the rule as the registering worker's config had it. */
  | { trigger: 'schedule'; ruleId: string; ruleHash: string };

export interface BatchJobData {
  sweepId: string;
  idx: number;
}

/** What a sweep job returns: the sweep that ran (its own, or the running one it joined). */
export interface SweepJobResult {
  sweepId: string;
  ruleId: string;
  joined: boolean;
  batches: number;
  /** Set when the sweep stopped before touching anything because it exceeds its limits. */
  blocked?: BlockedSweep;
  /** Running sweeps of the rule this trigger ended because their definition is no longer the config's. */
  superseded?: { sweepId: string; reason: string }[];
}

export interface BlockedSweep {
  affected: number;
  total: number;
  reason: string;
  /** Pass as `--confirm` to allow this sweep (and any not bigger). */
  confirmToken: string;
}

/** A sweep job's payload as this version writes it, or why it is not one. */
export function readSweepJobData(data: unknown): SweepJobData | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  if (value.trigger === 'manual' && typeof value.triggerId === 'string' && value.triggerId !== '') {
    return { trigger: 'manual', triggerId: value.triggerId };
  }
  if (value.trigger === 'schedule' && typeof value.ruleId === 'string' && typeof value.ruleHash === 'string') {
    return { trigger: 'schedule', ruleId: value.ruleId, ruleHash: value.ruleHash };
  }
  // Older versions put the whole rule, actor and flags in the payload: never run those.
  return { problem: 'the job payload is not a trigger id or a scheduled rule id and hash (a job from an older version, or added by hand)' };
}

/** A batch job's payload, or why it is not one. */
export function readBatchJobData(data: unknown): BatchJobData | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  if (typeof value.sweepId === 'string' && typeof value.idx === 'number' && Number.isInteger(value.idx) && value.idx >= 0) {
    return { sweepId: value.sweepId, idx: value.idx };
  }
  return { problem: 'the job payload is not a sweep id and batch index' };
}
