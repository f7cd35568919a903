import type { Logger } from 'pino';
import { incidentLine, sweepRecordIncident } from '../audit/never-store-incident.js';
import type { SweepEvents } from '../runtime/sweep-events.js';
import type { SweepRecord } from '../state/sweeps.js';

/**
 * Logs every sweep end this process records, once (the executor reports each end from
 * the one transaction that recorded it: src/runtime/sweep-events.ts). What needs an
 * operator is at `warn` or `error`, with the rule and the reason: blocked by its limits,
 * superseded, cancelled (warn), failed (error). A sweep that finished is `info`. A
 * never-store rule's sweep that found anything is an incident, logged here too (error),
 * however it ended: done, blocked, or superseded, cancelled or failed after some batches.
 */
export function logSweepEnds(log: Logger, events: SweepEvents): () => void {
  return events.on((event) => {
    if (event.type !== 'sweep-ended') return;
    logSweepEnd(log, event.sweep);
    logSweepIncident(log, event.sweep);
  });
}

/**
 * `INCIDENT: never-store rule X found N items in T; ...` at error, with the rule, target and
 * counts, when the ended sweep is an incident (src/audit/never-store-incident.ts: the same
 * judgement as its closing audit entry's); nothing otherwise.
 */
export function logSweepIncident(log: Logger, sweep: SweepRecord): void {
  const incident = sweepRecordIncident(sweep);
  if (!incident) return;
  log.error(
    {
      rule: incident.ruleId,
      target: incident.table,
      store: incident.store,
      sweep: incident.sweepId,
      status: sweep.status,
      found: incident.found,
      changed: incident.changed,
      held: incident.held,
      blocked: incident.blocked,
      incident: 'never-store',
    },
    incidentLine(incident),
  );
}

export function logSweepEnd(log: Logger, sweep: SweepRecord): void {
  const fields = { rule: sweep.ruleId, sweep: sweep.id, trigger: sweep.trigger, ...(sweep.dryRun ? { dryRun: true } : {}) };
  switch (sweep.status) {
    case 'done':
      log.info({ ...fields, rows: sweep.rowsAffected, batches: sweep.batchesTotal, ...(sweep.lagMs == null ? {} : { lagMs: sweep.lagMs }) }, 'sweep done');
      return;
    case 'blocked':
      log.warn(
        { ...fields, reason: sweep.blocked?.reason, affected: sweep.blocked?.affected, total: sweep.blocked?.total, confirmToken: sweep.blocked?.confirmToken },
        'sweep blocked by its limits; nothing was touched',
      );
      return;
    case 'failed':
      log.error({ ...fields, reason: sweep.reason, rows: sweep.rowsAffected }, 'sweep failed');
      return;
    case 'superseded':
    case 'cancelled':
      log.warn({ ...fields, reason: sweep.reason, rows: sweep.rowsAffected }, `sweep ${sweep.status}`);
      return;
    case 'running':
      return;
  }
}
