import type { Action } from '../policy/rule.js';
import type { AuditEntry, SweepAuditEntry } from './audit-entry.js';

/**
 * A never-store rule (`never: true`, e.g. face data) promises that its data is never
 * stored, so each of its sweeps checks that nothing is there. A sweep that finds something
 * is an incident: the promise was broken before the sweep ran, whatever the sweep then did.
 * The incident is recorded on the sweep's closing audit entry (`incident`), inside the
 * hashed content, so it cannot be removed without `audit verify` noticing.
 *
 * These are the pure functions that decide it: `sweepIncident` from a sweep as recorded
 * (what the executor writes), `incidentOf` from an audit entry (what `audit list`, and the
 * metrics, read back).
 *
 * Items a legal hold keeps are present, so they count in `found` beside the items a sweep
 * changed; but a sweep whose only finds are held items is no new incident: while the hold
 * lasts every sweep finds the same items again, and counting each would report one breach
 * as many (and alert every few minutes for months). Its closing entry records them as
 * `neverStoreHeld` instead. Anything changed, or a sweep blocked by its limits, still is one.
 */

/** What a closing entry records when a never-store rule's sweep found anything. */
export interface NeverStoreIncident {
  /**
   * Items found present: those the sweep deleted or anonymized plus those it had to keep
   * because their subject is on legal hold (the data is there either way); for a sweep
   * blocked by its limits, the rule's own items it would have changed (it touched none;
   * rows that would have cascaded through foreign keys, and objects the rows own, are in
   * the blocked entry's `rows`, which the limits judge, not here).
   */
  found: number;
  /** Of `found`, items kept because their subject is on legal hold; absent when none. */
  held?: number;
}

/** The closing events: the entries that can carry an incident. */
const CLOSING_EVENTS: ReadonlySet<SweepAuditEntry['event']> = new Set(['sweep-finished', 'blocked', 'superseded', 'failed', 'cancelled']);

/** What of a sweep the incident is judged from (a `SweepRecord` has all of it). */
export interface SweepFacts {
  /** The rule as planned; null for a sweep an older version planned (never a never-store rule). */
  rule: { never?: boolean } | null;
  dryRun: boolean;
  rowsAffected: number;
  rowsHeld: number;
  /** `rows`: the rule's own items of `affected` (absent on sweeps blocked before it was recorded). */
  blocked: { affected: number; rows?: number } | null;
}

/**
 * The incident a sweep is, when it has ended (or was blocked): null unless its rule is a
 * never-store rule and it found something it changed (or would have, when blocked). A dry
 * run is none: it changes nothing, and the real sweep that follows reports the same items
 * (counting both would report them twice). Nor is a sweep that found only items a legal
 * hold keeps (`sweepHeldOnly`).
 */
export function sweepIncident(sweep: SweepFacts): NeverStoreIncident | null {
  if (sweep.rule?.never !== true || sweep.dryRun) return null;
  if (sweep.blocked) {
    const found = sweep.blocked.rows ?? sweep.blocked.affected;
    return found > 0 ? { found } : null;
  }
  if (sweep.rowsAffected <= 0) return null;
  const found = sweep.rowsAffected + sweep.rowsHeld;
  return sweep.rowsHeld > 0 ? { found, held: sweep.rowsHeld } : { found };
}

/**
 * Items a never-store rule's sweep found present but kept, because their subject is on
 * legal hold, when that is all it found (it changed nothing): no new incident, recorded on
 * the closing entry as `neverStoreHeld`. Null otherwise (an incident, or nothing found).
 */
export function sweepHeldOnly(sweep: SweepFacts): number | null {
  if (sweep.rule?.never !== true || sweep.dryRun || sweep.blocked) return null;
  return sweep.rowsAffected <= 0 && sweep.rowsHeld > 0 ? sweep.rowsHeld : null;
}

/**
 * What a closing entry of `event` for `sweep` says of a never-store rule's finds, spread into
 * the entry: `incident`, or `neverStoreHeld` when it found only held items, or nothing.
 */
export function incidentMember(sweep: SweepFacts, event: SweepAuditEntry['event']): { incident?: NeverStoreIncident; neverStoreHeld?: number } {
  if (!CLOSING_EVENTS.has(event)) return {};
  const incident = sweepIncident(sweep);
  if (incident) return { incident };
  const held = sweepHeldOnly(sweep);
  return held === null ? {} : { neverStoreHeld: held };
}

/** `neverStoreHeld` of a closing entry (items found but kept on legal hold, no incident), or null. */
export function heldOnlyOf(entry: AuditEntry): number | null {
  if (!CLOSING_EVENTS.has(entry.event as SweepAuditEntry['event'])) return null;
  const held = (entry as SweepAuditEntry).neverStoreHeld;
  return typeof held === 'number' && held > 0 ? held : null;
}

/** An incident as an audit entry records it, for `audit list`, `run` and metrics. */
export interface RecordedIncident {
  ruleId: string;
  store: string;
  /** What the store called the target (`public.face_templates`). */
  table: string;
  action: Action | null;
  /** The closing event: `sweep-finished`, `blocked`, `superseded`, `failed` or `cancelled`. */
  event: SweepAuditEntry['event'];
  sweepId: string;
  found: number;
  /** Items deleted or anonymized (0 when blocked). */
  changed: number;
  /** Items kept on legal hold. */
  held: number;
  /** True when the sweep was blocked by its limits: nothing was touched. */
  blocked: boolean;
}

/**
 * Whether an audit entry records a never-store incident, and how many items: null for any
 * other entry. The metrics of a later issue count incidents with this, from closing entries
 * as `audit list --json` or the log give them.
 */
export function incidentOf(entry: AuditEntry): RecordedIncident | null {
  if (!CLOSING_EVENTS.has(entry.event as SweepAuditEntry['event'])) return null;
  const sweepEntry = entry as SweepAuditEntry;
  const incident = sweepEntry.incident;
  if (!incident || typeof incident.found !== 'number' || incident.found <= 0) return null;
  return recorded(sweepEntry, sweepEntry.event, incident);
}

/** A sweep as the state database records it: what `sweepRecordIncident` reads (a `SweepRecord` has it). */
export interface EndedSweepFacts extends SweepFacts {
  id: string;
  ruleId: string;
  status: string;
  summary: { store: string; target: string; action: Action | null };
}

/**
 * The incident a recorded sweep's closing entry carries (or will: the same judgement), for
 * `run` and the worker's log; null while it runs, or when it is none.
 */
export function sweepRecordIncident(sweep: EndedSweepFacts): RecordedIncident | null {
  if (sweep.status === 'running') return null;
  const event = (sweep.status === 'done' ? 'sweep-finished' : sweep.status) as SweepAuditEntry['event'];
  const incident = CLOSING_EVENTS.has(event) ? sweepIncident(sweep) : null;
  if (!incident) return null;
  return recorded({ ruleId: sweep.ruleId, store: sweep.summary.store, table: sweep.summary.target, action: sweep.summary.action, sweepId: sweep.id }, event, incident);
}

function recorded(
  at: Pick<SweepAuditEntry, 'ruleId' | 'store' | 'table' | 'action' | 'sweepId'>,
  event: SweepAuditEntry['event'],
  incident: NeverStoreIncident,
): RecordedIncident {
  const held = incident.held ?? 0;
  const blocked = event === 'blocked';
  return {
    ruleId: at.ruleId,
    store: at.store,
    table: at.table,
    action: at.action,
    event,
    sweepId: at.sweepId,
    found: incident.found,
    changed: blocked ? 0 : incident.found - held,
    held,
    blocked,
  };
}

/**
 * The one line an operator must see: `INCIDENT: never-store rule X found N items in T;
 * deleted` (anonymized, kept on hold, or blocked: touched nothing).
 */
export function incidentLine(incident: RecordedIncident): string {
  const verb = incident.action === 'anonymize' ? 'anonymized' : 'deleted';
  const what = incident.blocked
    ? `blocked by its limits, nothing was touched (confirm the sweep to ${incident.action === 'anonymize' ? 'anonymize' : 'delete'} them)`
    : incident.held > 0
      ? `${incident.changed} ${verb}, ${incident.held} kept because their subject is on legal hold`
      : incident.event === 'sweep-finished'
        ? verb
        : `${incident.changed} ${verb} before the sweep ${incident.event === 'failed' ? 'failed' : `was ${incident.event}`}`;
  return `INCIDENT: never-store rule ${incident.ruleId} found ${incident.found} item${incident.found === 1 ? '' : 's'} in ${incident.table}; ${what}`;
}
