import type { Action } from '../policy/rule.js';
import { SUNSET_EVENTS, type SunsetAuditEntry } from './sunset-audit-entry.js';

export type { SunsetAuditEntry };

/**
 * What one audit entry records. Names, counts and positions only: an auditor can see what
 * was done to which table under which rule, but no personal data (no row key, only a
 * batch's position or a key's digest, `keyDigest`).
 */
export type AuditEntry = SweepAuditEntry | PeopleAuditEntry | SunsetAuditEntry;

/** What a sweep (or a job refused, or a cascade drain) did: see `event`. */
export interface SweepAuditEntry {
  /**
   * `batch`: rows changed (or counted, in a dry run); `sweep-finished`: the total;
   * `blocked`: a sweep over its limits stopped before touching anything (rows = would change);
   * `superseded`, `failed`, `cancelled`: a sweep ended early (rows = changed until then),
   * with `reason`; `refused`: a queue job the worker would not run (its rule is not the
   * config's, or its trigger is not recorded), with `reason`; `cascade-drained`: objects a
   * sweep's deleted rows owned (`cascade:`), deleted by a drain of the outbox (`objects`).
   */
  event: 'batch' | 'sweep-finished' | 'blocked' | 'superseded' | 'failed' | 'cancelled' | 'refused' | 'cascade-drained';
  ruleId: string;
  ruleSource: string | null;
  configHash: string;
  sweepId: string;
  store: string;
  table: string;
  /** Null only in a `refused` entry for a job naming no rule of the config (or a sweep an older version planned whose action cannot be read). */
  action: Action | null;
  dryRun: boolean;
  /** The state database's clock when the sweep was planned. */
  now: string;
  /** Expired anchor ranges at `now`, ISO instants. */
  ranges: { from: string | null; to: string }[];
  rows: number;
  /**
   * Legacy: entries written before issue 7 recorded a batch's key bounds here, raw (and a
   * key column can hold personal data). No longer written: a batch is named by `batch`.
   */
  keyRange?: { after: string | null; upTo: string | null };
  /** Batch only: its position in the sweep (0-based), the surrogate for its key range. */
  batch?: number;
  /**
   * `sweep-finished`: how many batches the sweep ran, and how many of them changed no row
   * (`empty`). Of those, a batch that also kept and skipped nothing writes no entry of its
   * own (a sweep over a big table would otherwise write hundreds of entries saying 0 rows);
   * one that kept held rows (or skipped some, set TTLs, kept a partition) does. 0 batches:
   * the store found nothing expired when planning.
   */
  batches?: { total: number; empty: number };
  /**
   * Closing entries (`sweep-finished`, `blocked`, `superseded`, `failed`, `cancelled`): how
   * late the sweep was when planned, in ms: its `now` minus the end of the retention period
   * of the oldest expired item still present then (0: none was). Absent when the store
   * cannot tell (a kind without `oldestPending`).
   */
  lagMs?: number;
  actor: string;
  trigger: string;
  /** `blocked`: why, how big the table is, and the token that would confirm it. */
  blocked?: { total: number; reason: string; confirmToken: string };
  /** The confirmation a sweep over its limits ran with. */
  confirmToken?: string;
  /** Batch: rows other tables lost through `ON DELETE CASCADE`, by table. */
  cascaded?: Record<string, number>;
  /** Batch of an `action: expire` rule: TTLs set or shortened (dry run: that would be); `rows` are the keys deleted. */
  ttls?: number;
  /** Batch of a `cascade:` rule: objects the deleted rows owned, queued in the same transaction, by store (dry run: that would be). */
  objectsQueued?: Record<string, number>;
  /**
   * `cascade-drained`: by store, objects deleted, already gone (counted as deleted), refused
   * (a name escaping the store: never deleted) and failed (left queued, tried again).
   */
  objects?: Record<string, { deleted: number; missing: number; refused: number; failed: number; kept: number }>;
  /** `cascade-drained`: refused objects by key digest of their name (`keyDigest`), never the name. */
  refusedObjects?: { store: string; key: string; reason: string }[];
  /** Batch: rows the batch could not change and left, by key digest (`keyDigest`), never the raw key. */
  skippedRows?: { key: string; reason: string }[];
  /** Batch: items the batch would have changed but kept because their subject is on legal hold. */
  held?: number;
  /** Batch: each partition it dropped whole (a range partition wholly expired) and the rows it held, counted exactly under lock before the drop. */
  dropped?: { partition: string; rows: number }[];
  /** Batch planned to drop partitions: each one whose expired rows it deleted one by one instead, and why. */
  partitionKept?: { partition: string; reason: string }[];
  /**
   * Closing entries of a never-store rule's sweep (`never: true`) that found anything: how
   * many items were present (`src/audit/never-store-incident.ts`). Absent: not such a
   * sweep, or it found nothing.
   */
  incident?: { found: number; held?: number };
  /**
   * Closing entries of a never-store rule's sweep that found only items a legal hold keeps
   * (it changed nothing): how many. No incident: every sweep while the hold lasts finds
   * them again (`src/audit/never-store-incident.ts`).
   */
  neverStoreHeld?: number;
  /** `superseded`, `failed`, `cancelled`, `refused`: why. */
  reason?: string;
  /** `superseded`, `refused`: the definition hash the sweep was planned with or the job carried. */
  ruleHash?: string | null;
  /** `superseded`, `refused`: the rule's definition hash in the config; null when the config has no such rule. */
  configRuleHash?: string | null;
}

/**
 * What was done for or about a person (issue 12). Never the person's identifier: `subject`
 * is its keyed digest (`subjectDigest`), which someone holding the audit key and the id can
 * recompute.
 *
 * `hold-added`, `hold-released`: a legal hold (on `subject`, on `ruleId`, or both) changed;
 * `held`: a sweep did not start because its rule is on hold (`holdId`);
 * `request-opened`, `request-extended` (new `dueAt`, `reason`), `request-acknowledged` (the
 * person was told it was received), `request-waiting` (why it
 * cannot finish now), `request-completed` (verified: nothing of the subject is left),
 * `request-expired` (its record reached `requests.keep`; the ledger keeps the digest);
 * `erased`: one rule's items of the subject deleted or anonymized (`rows`) for `requestId`;
 * `replayed`: after a restore, items erased or swept before were removed again (`rows`).
 */
export interface PeopleAuditEntry {
  event:
    | 'hold-added'
    | 'hold-released'
    | 'held'
    | 'request-opened'
    | 'request-extended'
    | 'request-acknowledged'
    | 'request-waiting'
    | 'request-completed'
    | 'request-expired'
    | 'erased'
    | 'replayed';
  /** The subject's digest; absent for a hold on a whole rule. */
  subject?: string;
  requestId?: string;
  holdId?: string;
  /** The rule concerned; null when the entry concerns every rule (a request, a subject hold). */
  ruleId: string | null;
  ruleSource?: string | null;
  ruleHash?: string;
  configHash?: string;
  store?: string;
  table?: string;
  action?: Action | null;
  rows: number;
  dryRun?: false;
  cascaded?: Record<string, number>;
  objectsQueued?: Record<string, number>;
  actor: string;
  reason?: string;
  /** Hold: until when; request: the answer deadline (after an extension, the new one). */
  until?: string | null;
  dueAt?: string;
  receivedAt?: string;
  /** `replayed`: what was replayed (`erasure` of `requestId`, or `sweep` of `ruleId`) and since when. */
  replay?: { of: 'erasure' | 'sweep'; since: string };
  /** `replayed` of a sweep: the sweep that removed the items again (its batches are audited under it). */
  sweepId?: string;
  /**
   * `hold-added` reaching an `action: expire` rule: TTLs lifted from the held items (set by
   * earlier sweeps, or by the application), which would otherwise have deleted them.
   */
  ttlsLifted?: number;
}

const PEOPLE_EVENTS: ReadonlySet<string> = new Set<PeopleAuditEntry['event']>([
  'hold-added',
  'hold-released',
  'held',
  'request-opened',
  'request-extended',
  'request-acknowledged',
  'request-waiting',
  'request-completed',
  'request-expired',
  'erased',
  'replayed',
]);

const OTHER_EVENTS: ReadonlySet<string> = new Set<string>(SUNSET_EVENTS);

/** A sweep's entry (batch, sweep-finished, blocked, ...), not one about a person or a sunset. */
export function isSweepEntry(entry: AuditEntry): entry is SweepAuditEntry {
  return !PEOPLE_EVENTS.has(entry.event) && !OTHER_EVENTS.has(entry.event);
}

/** An entry as stored: with its place in the chain. */
export interface AuditRecord<Entry extends AuditEntry = AuditEntry> {
  seq: number;
  at: string;
  entry: Entry;
  prevHash: string;
  hash: string;
  /** False for legacy entries written before the chain was keyed (plain sha256). */
  keyed: boolean;
}
