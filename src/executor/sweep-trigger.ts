import { RULE_SHAPE_VERSION } from '../policy/rule.js';
import type { BlockedSweep } from '../state/sweeps.js';
import type { RuleHeld } from './sweep-on-hold.js';

/**
 * What asks for a sweep: ids and hashes only, never rule definitions, row data, key
 * values, secrets, actors or confirmations. Anyone who can write to Redis can add a job, so
 * the executor takes nothing from one on trust: it runs only rules of its own loaded
 * config (looked up by id, checked by definition hash), and who asked for a manual sweep,
 * with which flags, is read from the trigger row `retention run` wrote to the state database.
 */
export type SweepTrigger =
  /** `retention run`: the id of its row in the state database's `triggers`. */
  | { trigger: 'manual'; triggerId: string }
  /**
   * A job scheduler: the rule as the registering worker's config had it, with the shape
   * version its hash was computed over (`RULE_SHAPE_VERSION`).
   */
  | { trigger: 'schedule'; ruleId: string; ruleHash: string; v: typeof RULE_SHAPE_VERSION };

/** What starting a sweep did: the sweep that runs (its own, or the running one it joined). */
export interface SweepStarted {
  sweepId: string;
  ruleId: string;
  joined: boolean;
  batches: number;
  /** Set when the sweep stopped before touching anything because it exceeds its limits. */
  blocked?: BlockedSweep;
  /** Running sweeps of the rule this trigger ended because their definition is no longer the config's. */
  superseded?: { sweepId: string; reason: string }[];
  /** Set when no sweep started because the rule is on legal hold (audited as `held`); `sweepId` is then not recorded. */
  held?: RuleHeld;
}

/** A trigger as this version writes it, or why it is not one. */
export function readSweepTrigger(data: unknown): SweepTrigger | { problem: string } {
  const value = (data ?? {}) as Record<string, unknown>;
  if (value.trigger === 'manual' && typeof value.triggerId === 'string' && value.triggerId !== '') {
    return { trigger: 'manual', triggerId: value.triggerId };
  }
  if (value.trigger === 'schedule' && typeof value.ruleId === 'string' && typeof value.ruleHash === 'string') {
    // A hash computed over another rule shape cannot be compared with this config's.
    if (value.v !== RULE_SHAPE_VERSION) {
      return { problem: `the scheduled job for rule ${value.ruleId} was registered by an older version (rule shape ${JSON.stringify(value.v ?? 1)}, not ${RULE_SHAPE_VERSION}); its definition cannot be compared with this config's` };
    }
    return { trigger: 'schedule', ruleId: value.ruleId, ruleHash: value.ruleHash, v: RULE_SHAPE_VERSION };
  }
  // Older versions put the whole rule, actor and flags in the payload: never run those.
  return { problem: 'the job payload is not a trigger id or a scheduled rule id and hash (a job from an older version, or added by hand)' };
}
