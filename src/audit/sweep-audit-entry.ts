import type { SweepRecord } from '../state/sweeps.js';
import type { SweepAuditEntry } from './audit-entry.js';
import { incidentMember } from './never-store-incident.js';

/**
 * The audit entry for an event of a recorded sweep: everything an auditor needs, no row
 * data. The rule's target is named as its store described it when the sweep was planned
 * (`public.logs`, `session:*`), whatever the store's kind. A batch is named by its position
 * in the sweep, never by its key bounds: bounds are row keys, a key column can hold
 * personal data (`key: email`), and the log can never be cleaned.
 */
export function sweepAuditEntry(
  sweep: SweepRecord,
  event: SweepAuditEntry['event'],
  rows: number,
  batch?: { idx: number },
  batches?: { total: number; empty: number },
): SweepAuditEntry {
  const { summary } = sweep;
  return {
    event,
    ruleId: sweep.ruleId,
    ruleSource: summary.source,
    configHash: sweep.configHash,
    sweepId: sweep.id,
    store: summary.store,
    table: summary.target,
    action: summary.action,
    dryRun: sweep.dryRun,
    now: sweep.now.toISOString(),
    ranges: sweep.ranges,
    rows,
    ...(batch ? { batch: batch.idx } : {}),
    ...(batches ? { batches } : {}),
    // The lag at planning belongs to the sweep, not to each batch: closing entries only.
    ...(event !== 'batch' && typeof sweep.lagMs === 'number' ? { lagMs: sweep.lagMs } : {}),
    actor: sweep.actor,
    trigger: sweep.trigger,
    ...(sweep.blocked ? { blocked: { total: sweep.blocked.total, reason: sweep.blocked.reason, confirmToken: sweep.blocked.confirmToken } } : {}),
    ...(sweep.confirmToken ? { confirmToken: sweep.confirmToken } : {}),
    // A never-store rule's sweep that found anything: closing entries only, hashed with the rest.
    ...incidentMember(sweep, event),
  };
}
