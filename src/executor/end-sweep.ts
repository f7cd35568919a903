import { appendAudit } from '../audit/append-audit.js';
import type { SweepAuditEntry } from '../audit/audit-entry.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import type { Runtime } from '../runtime/runtime.js';
import { markSweepEnded, type EndedStatus, type SweepRecord } from '../state/sweeps.js';
import { withTransaction } from '../stores/postgres/connect.js';

/** A sweep that ended early, as reported to whoever ended it (for logs and the CLI). */
export interface EndedSweep {
  sweepId: string;
  ruleId: string;
  status: EndedStatus;
  reason: string;
}

/**
 * Ends a running sweep early and audits it in the same transaction. Its unfinished batches
 * then do nothing (the executor checks the status under the batch's lock), and the rule
 * is free for a fresh sweep. Null when the sweep was not running: someone else ended or
 * finished it, and audited that.
 */
export async function endSweep(
  runtime: Runtime,
  sweepId: string,
  status: EndedStatus,
  reason: string,
  extra: Partial<Pick<SweepAuditEntry, 'actor' | 'ruleHash' | 'configRuleHash'>> = {},
): Promise<EndedSweep | null> {
  const { state } = runtime;
  // Set inside the transaction; the cast keeps TypeScript from narrowing it to null.
  let record = null as SweepRecord | null;
  const end = await withTransaction(state.db, async (client) => {
    const ended = await markSweepEnded(client, state, sweepId, status, reason);
    if (!ended) return null;
    await appendAudit(client, state, { ...sweepAuditEntry(ended, status, ended.rowsAffected), reason, ...extra });
    record = ended;
    return { sweepId, ruleId: ended.ruleId, status, reason };
  });
  // Reported after the commit, by the one caller whose update ended it: logged and counted once.
  if (end && record) runtime.events.emit({ type: 'sweep-ended', sweep: record });
  return end;
}

/**
 * Why a sweep may no longer run under this process's config, or null when it may: its
 * rule left the config, the config defines it differently (another definition hash), or
 * an older version planned it (its rule has another shape: nothing to compare).
 */
export function outdatedBy(runtime: Runtime, sweep: SweepRecord): { reason: string; configRuleHash: string | null } | null {
  const current = runtime.config.rules.find((r) => r.id === sweep.ruleId);
  if (sweep.rule === null) {
    return {
      reason: `sweep ${sweep.id} was planned by an older version of retention, whose rule shape has no version: its definition cannot be compared with the config's (${runtime.config.file}); a fresh sweep plans it again`,
      configRuleHash: current?.hash ?? null,
    };
  }
  if (!current) return { reason: `rule ${sweep.ruleId} is no longer in the config (${runtime.config.file})`, configRuleHash: null };
  if (current.hash === sweep.ruleHash) return null;
  return {
    reason: `rule ${sweep.ruleId} changed since the sweep was planned: definition ${short(sweep.ruleHash)} then, ${short(current.hash)} in the config (${runtime.config.file}) now`,
    configRuleHash: current.hash,
  };
}

/**
 * A sweep must never change data under a definition that is no longer the config's:
 * supersedes it (audited with both hashes) when its rule left the config or changed.
 * Returns the end, or null when the sweep is current (or had already ended).
 */
export async function supersedeIfOutdated(runtime: Runtime, sweep: SweepRecord): Promise<EndedSweep | null> {
  const outdated = outdatedBy(runtime, sweep);
  if (!outdated) return null;
  return endSweep(runtime, sweep.id, 'superseded', outdated.reason, { ruleHash: sweep.ruleHash, configRuleHash: outdated.configRuleHash });
}

const short = (hash: string | null) => (hash === null ? 'unknown' : hash.slice(0, 12));
