import type { Action } from '../policy/rule.js';
import type { UnfinishedSunset } from './unfinished-sunsets.js';

/** The events of a service sunset (`retention sunset --execute`), in the order they are written. */
export const SUNSET_EVENTS = ['sunset-started', 'sunset-batch', 'sunset-rule', 'sunset-finished'] as const;

/**
 * How one rule's part of a sunset ended: `done` (a count after it found nothing more it
 * selects), `incomplete` (interrupted midway, or its pass ended but it still selects
 * items: rows a statement could not change, items written meanwhile), `held` (a hold on the whole rule),
 * `refused` (its store cannot select every item), `failed` (an error stopped it),
 * `not-started` (interrupted before it, or a rule before it in its store failed).
 */
export type SunsetRuleStatus = 'done' | 'incomplete' | 'held' | 'refused' | 'failed' | 'not-started';

/**
 * What a service sunset did, every entry with `trigger: 'sunset'` and the sunset's id:
 *
 * - `sunset-started`: the plan it was confirmed with (`token`), before anything changed;
 * - `sunset-batch`: one key range of one rule changed (`rows`; `held`: items kept because
 *   their subject is on legal hold), committed with the change when the store is the
 *   state database, else just after it (change, then record);
 * - `sunset-rule`: a rule's part ended (`status`, `SunsetRuleStatus`; `holdId` for a hold
 *   on the whole rule, `reason` for the others), with its totals;
 * - `sunset-finished`: the receipt's digest (`receiptDigest`), which an auditor recomputes
 *   from the printed receipt to match it with this entry.
 *
 * Names, counts and digests only: no row key, no subject id.
 */
export interface SunsetAuditEntry {
  event: (typeof SUNSET_EVENTS)[number];
  sunsetId: string;
  /** The rule concerned; null for `sunset-started` and `sunset-finished`. */
  ruleId: string | null;
  ruleSource?: string | null;
  ruleHash?: string;
  configHash: string;
  store?: string;
  table?: string;
  /** What was done to the items: `delete` or `anonymize`. */
  action?: Action | null;
  /** The rule's own action when the sunset does something else (`expire`, `archive`: deleted). */
  ruleAction?: Action;
  rows: number;
  held?: number;
  /** Rows other tables lost through `ON DELETE CASCADE`, by table. */
  cascaded?: Record<string, number>;
  /** Objects the deleted rows owned (`cascade:`), queued for deletion, by store. */
  objectsQueued?: Record<string, number>;
  /** Rows the batch could not change and left, by key digest (`keyDigest`), never the raw key. */
  skippedRows?: { key: string; reason: string }[];
  /** `sunset-batch`: its position among the rule's key ranges (0-based). */
  batch?: number;
  status?: SunsetRuleStatus;
  reason?: string;
  holdId?: string;
  /** `sunset-started`: the confirmation token of the plan executed. */
  token?: string;
  /** `sunset-started`: earlier sunsets started and never finished (a crash may have changed data no entry records). */
  unfinished?: UnfinishedSunset[];
  /** `sunset-finished`: SHA-256 of the receipt's canonical JSON without its `digest` and `closing` members. */
  receiptDigest?: string;
  /** `sunset-finished`: whether every rule the sunset applies is done. */
  complete?: boolean;
  actor: string;
  trigger: 'sunset';
  dryRun?: false;
}
