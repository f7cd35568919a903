import { describe, expect, it } from 'vitest';
import type { SweepAuditEntry } from '../../src/audit/audit-entry.js';
import { incidentLine, incidentMember, incidentOf, sweepHeldOnly, sweepIncident, sweepRecordIncident, type EndedSweepFacts } from '../../src/audit/never-store-incident.js';

/**
 * When a sweep is a never-store incident, and how many items it found: the pure functions
 * the executor writes the closing entry with and `run`, `audit list`, the worker and the
 * metrics read it back with.
 */

const sweep = (fields: Partial<EndedSweepFacts> = {}): EndedSweepFacts => ({
  id: 's1',
  ruleId: 'face-data',
  status: 'done',
  summary: { store: 'app', target: 'public.face_templates', action: 'delete' },
  rule: { never: true },
  dryRun: false,
  rowsAffected: 0,
  rowsHeld: 0,
  blocked: null,
  ...fields,
});

describe('sweepIncident', () => {
  it('is the items changed plus those a hold kept, for a never-store rule', () => {
    expect(sweepIncident(sweep({ rowsAffected: 3 }))).toEqual({ found: 3 });
    expect(sweepIncident(sweep({ rowsAffected: 3, rowsHeld: 2 }))).toEqual({ found: 5, held: 2 });
  });

  it('is none when all it found a hold kept: every sweep while the hold lasts finds them again', () => {
    expect(sweepIncident(sweep({ rowsHeld: 2 }))).toBeNull();
    expect(sweepHeldOnly(sweep({ rowsHeld: 2 }))).toBe(2);
    expect(sweepHeldOnly(sweep({ rowsAffected: 1, rowsHeld: 2 }))).toBeNull();
    expect(sweepHeldOnly(sweep({ rowsHeld: 2, dryRun: true }))).toBeNull();
    expect(sweepHeldOnly(sweep({ rowsHeld: 2, rule: { never: false } }))).toBeNull();
  });

  it('is the rule\'s own items a blocked sweep would have changed (not what would cascade with them)', () => {
    expect(sweepIncident(sweep({ status: 'blocked', blocked: { affected: 7, rows: 3 } }))).toEqual({ found: 3 });
    // Blocked before the rule's own rows were recorded: what the limits judged.
    expect(sweepIncident(sweep({ status: 'blocked', blocked: { affected: 7 } }))).toEqual({ found: 7 });
    expect(sweepIncident(sweep({ status: 'blocked', blocked: { affected: 0, rows: 0 } }))).toBeNull();
  });

  it('is none when nothing was found, in a dry run, or for any other rule', () => {
    expect(sweepIncident(sweep())).toBeNull();
    expect(sweepIncident(sweep({ rowsAffected: 3, dryRun: true }))).toBeNull();
    expect(sweepIncident(sweep({ rowsAffected: 3, rule: { never: false } }))).toBeNull();
    expect(sweepIncident(sweep({ rowsAffected: 3, rule: {} }))).toBeNull();
    // A sweep an older version planned (its rule cannot be read) is no never-store sweep.
    expect(sweepIncident(sweep({ rowsAffected: 3, rule: null }))).toBeNull();
  });
});

describe('incidentMember', () => {
  it('goes on closing entries only, never on a batch', () => {
    const found = sweep({ rowsAffected: 3 });
    for (const event of ['sweep-finished', 'blocked', 'superseded', 'failed', 'cancelled'] as const) expect(incidentMember(found, event)).toEqual({ incident: { found: 3 } });
    for (const event of ['batch', 'refused', 'cascade-drained'] as const) expect(incidentMember(found, event)).toEqual({});
  });

  it('records neverStoreHeld instead on a closing entry of a sweep that found only held items', () => {
    const held = sweep({ rowsHeld: 2 });
    expect(incidentMember(held, 'sweep-finished')).toEqual({ neverStoreHeld: 2 });
    expect(incidentMember(held, 'batch')).toEqual({});
    expect(incidentMember(sweep(), 'sweep-finished')).toEqual({});
  });
});

describe('incidentOf and sweepRecordIncident', () => {
  const entry = (fields: Partial<SweepAuditEntry>): SweepAuditEntry =>
    ({ event: 'sweep-finished', ruleId: 'face-data', store: 'app', table: 'public.face_templates', action: 'delete', sweepId: 's1', rows: 3, ...fields }) as SweepAuditEntry;

  it('reads the incident of a closing entry, and agrees with the sweep it was written for', () => {
    expect(incidentOf(entry({ incident: { found: 5, held: 2 } }))).toEqual({
      ruleId: 'face-data',
      store: 'app',
      table: 'public.face_templates',
      action: 'delete',
      event: 'sweep-finished',
      sweepId: 's1',
      found: 5,
      changed: 3,
      held: 2,
      blocked: false,
    });
    expect(sweepRecordIncident(sweep({ rowsAffected: 3, rowsHeld: 2 }))).toEqual(incidentOf(entry({ incident: { found: 5, held: 2 } })));
    expect(sweepRecordIncident(sweep({ status: 'running', rowsAffected: 3 }))).toBeNull();
  });

  it('is null for an entry without one, a batch entry, or an entry about a person', () => {
    expect(incidentOf(entry({}))).toBeNull();
    expect(incidentOf(entry({ event: 'batch', incident: { found: 3 } }))).toBeNull();
    expect(incidentOf({ event: 'erased', ruleId: 'face-data', rows: 3, actor: 'x' })).toBeNull();
  });

  it('prints the line an operator must see', () => {
    const line = (fields: Partial<EndedSweepFacts>) => incidentLine(sweepRecordIncident(sweep(fields))!);
    expect(line({ rowsAffected: 1 })).toBe('INCIDENT: never-store rule face-data found 1 item in public.face_templates; deleted');
    expect(line({ rowsAffected: 3, summary: { store: 'app', target: 'public.accounts', action: 'anonymize' } })).toBe(
      'INCIDENT: never-store rule face-data found 3 items in public.accounts; anonymized',
    );
    expect(line({ rowsAffected: 3, rowsHeld: 1 })).toBe('INCIDENT: never-store rule face-data found 4 items in public.face_templates; 3 deleted, 1 kept because their subject is on legal hold');
    expect(line({ status: 'blocked', blocked: { affected: 9 } })).toBe(
      'INCIDENT: never-store rule face-data found 9 items in public.face_templates; blocked by its limits, nothing was touched (confirm the sweep to delete them)',
    );
    expect(line({ status: 'failed', rowsAffected: 2 })).toBe('INCIDENT: never-store rule face-data found 2 items in public.face_templates; 2 deleted before the sweep failed')
    expect(line({ status: 'cancelled', rowsAffected: 2 })).toBe('INCIDENT: never-store rule face-data found 2 items in public.face_templates; 2 deleted before the sweep was cancelled');
  });
});
