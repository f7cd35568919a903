import { databaseNow } from '../state/database-now.js';
import { Duration } from 'luxon';
import { auditKeyProblem } from '../audit/audit-key.js';
import type { AuditEntry } from '../audit/audit-entry.js';
import { incidentOf } from '../audit/never-store-incident.js';
import { verifyAudit } from '../audit/verify-audit.js';
import { sweepLag } from '../executor/next-expiry.js';
import { daysLeft } from '../people/deadlines.js';
import { requestUrgency } from '../people/request-urgency.js';
import { planSweep } from '../planner/plan-sweep.js';
import type { Rule } from '../policy/rule.js';
import { nextRun } from '../queue/next-runs.js';
import { queueHealth, type QueueHealth } from '../queue/queue-health.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { redactText } from '../redact.js';
import type { Runtime } from '../runtime/runtime.js';
import type { HoldRecord } from '../state/holds.js';
import { latestSweeps } from '../state/latest-sweeps.js';
import { listRequests } from '../state/requests.js';
import type { SweepRecord } from '../state/sweeps.js';
import { countedLag, type CountedLag } from './counted-lag.js';
import { lateAfter } from './late-after.js';
import { readRuleHolds } from './rule-holds.js';

/**
 * Something `retention status` found. `problem`: a promise is not being kept (a rule
 * blocked, failed or late, an overdue request, a broken audit chain, no worker to run the
 * schedules): the command exits 1. `unknown`: something could not be checked (a store that
 * did not answer, no audit key to verify the chain with), and nothing says it is fine.
 */
export interface StatusFinding {
  severity: 'problem' | 'unknown';
  /** The rule concerned; null for the queue, requests and the audit log. */
  rule: string | null;
  /**
   * `ended-early`: the last sweep was superseded or cancelled and none is done since.
   * `manual-pending`: expired items are present and the rule is manual: someone must run it.
   * `lag`: the lag could not be read (a store that did not answer or could not count), so
   * nothing says the rule keeps up.
   */
  kind: 'blocked' | 'failed' | 'ended-early' | 'late' | 'manual-pending' | 'not-scheduled' | 'no-worker' | 'queue' | 'overdue-request' | 'audit' | 'lag';
  message: string;
}

/** When a rule's next sweep runs. */
export type NextRunStatus =
  | { kind: 'manual' }
  | {
      kind: 'scheduled';
      /** The sooner of the two below; null when neither is queued. */
      at: Date | null;
      /** The rule's job scheduler's next run; null when no worker registered one (`registered` false). */
      schedule: Date | null;
      registered: boolean;
      /** False when the registered scheduler carries another definition of the rule (a worker on another config). */
      current: boolean;
      /** The next-expiry sweep queued for the rule, or null. */
      nextExpiry: Date | null;
    }
  | { kind: 'unknown'; reason: string };

/** How late a rule is now. */
export type LagStatus =
  | {
      kind: 'known';
      /** How long ago the oldest expired item still present reached its end (0: none is). */
      ms: number;
      oldestExpiredEnd: Date | null;
      /** When that item becomes late by the rule's schedule (`lateAfter`); null for manual rules or when nothing is pending. */
      lateAfter: Date | null;
      late: boolean;
      /** True when items of held subjects could not be left out (no audit key to open the held ids): the figure may count them. */
      heldIncluded: boolean;
    }
  /** A store with no `oldestPending` (Redis, files, S3, module stores): judged by counting (`countedLag`). */
  | CountedLag
  /** The store did not answer or could not count (`error`), or could not tell otherwise. Never reported as 0. */
  | { kind: 'unknown'; reason: string; error: boolean };

export interface RuleStatus {
  rule: Rule;
  /** What the store shows for the rule's target. */
  target: string;
  /** The most recent real sweep (dry runs left out), in any status; null when the rule was never swept. */
  last: SweepRecord | null;
  /** The most recent sweep that ended done. */
  lastDone: SweepRecord | null;
  /** Sweeps that ended early since `lastDone` (every one, when none is done). */
  endedSinceDone: { failed: number; superseded: number; cancelled: number };
  /** The last sweep was blocked by its limits: why, and the command that confirms it (null when the rule changed since: `plan` gives a new token). */
  blocked: { sweepId: string; reason: string; affected: number; command: string | null } | null;
  next: NextRunStatus;
  lag: LagStatus;
  /** Legal holds on the rule: one that stops it whole, and how many subject holds it keeps items for. */
  holds: { ruleHold: HoldRecord | null; subjectHolds: number };
  /** Never-store incidents recorded for the rule (closing entries carrying `incident`); null when none. */
  incidents: { count: number; found: number; lastAt: Date; lastSweepId: string } | null;
}

export interface StatusReport {
  /** The state database's clock. */
  now: Date;
  rules: RuleStatus[];
  requests: {
    open: number;
    overdue: number;
    /** The open request due soonest. */
    nearest: { id: string; dueAt: Date; daysLeft: number; overdue: boolean } | null;
  };
  queue: QueueHealth | { error: string };
  audit: { ok: true; entries: number; legacy: number } | { ok: false; entries: number; seq: number; problem: string } | { ok: null; reason: string };
  findings: StatusFinding[];
}

/**
 * The costly parts of a status report: the whole audit chain verified, and the never-store
 * incidents found by a scan of the audit log. `gatherStatus` reads them itself unless given
 * them; the dashboard reads them less often than the rest (src/dashboard/start-dashboard.ts).
 */
export interface SlowStatusParts {
  audit: StatusReport['audit'];
  incidents: Map<string, NonNullable<RuleStatus['incidents']>>;
}

/** Reads `SlowStatusParts`; changes nothing. */
export async function readSlowStatusParts(runtime: Runtime): Promise<SlowStatusParts> {
  return { audit: await auditNow(runtime), incidents: await incidentsByRule(runtime) };
}

/** The queue as the caller could open it: its Redis may not answer. */
export type QueueAccess = { queue: SweepQueue } | { error: string };

/**
 * Everything `retention status` (and later the dashboard) shows, read from the state
 * database, the queue and each rule's store; changes nothing. A store or the queue that does
 * not answer is reported where it matters, never taken as "nothing pending".
 */
export async function gatherStatus(runtime: Runtime, access: QueueAccess, slow?: SlowStatusParts): Promise<StatusReport> {
  const { state, config } = runtime;
  const now = await databaseNow(state.db.pool);
  const findings: StatusFinding[] = [];
  const sweeps = await latestSweeps(state);
  const holdsOf = await readRuleHolds(runtime);
  const incidents = slow?.incidents ?? (await incidentsByRule(runtime));
  const queue = 'queue' in access ? await queueHealth(access.queue).catch((error: Error) => ({ error: redactText(error.message) })) : { error: access.error };

  const rules: RuleStatus[] = [];
  for (const rule of config.rules) {
    const latest = sweeps.get(rule.id);
    const last = latest?.last ?? null;
    const holds = holdsOf(rule);
    const status: RuleStatus = {
      rule,
      target: runtime.storeFor(rule).describe(rule),
      last,
      lastDone: latest?.lastDone ?? null,
      endedSinceDone: latest?.endedSinceDone ?? { failed: 0, superseded: 0, cancelled: 0 },
      blocked: blockedBy(rule, last),
      next: 'queue' in access && !('error' in queue) ? await nextRunOf(access.queue, rule) : rule.schedule.kind === 'manual' ? { kind: 'manual' } : { kind: 'unknown', reason: 'the queue cannot be read' },
      lag: await lagOf(runtime, rule, now, holds.held, holds.ruleHold !== null),
      holds: { ruleHold: holds.ruleHold, subjectHolds: holds.subjectHolds },
      incidents: incidents.get(rule.id) ?? null,
    };
    findings.push(...ruleFindings(status, queue));
    rules.push(status);
  }

  if ('error' in queue) findings.push({ severity: 'problem', rule: null, kind: 'queue', message: `the queue's Redis cannot be read (${queue.error}): no sweep can be queued or run` });
  else {
    if (queue.paused) {
      findings.push({ severity: 'problem', rule: null, kind: 'queue', message: 'the queue is paused: no worker takes a sweep, batch or erasure job until it is resumed (BullMQ Queue.resume())' });
    }
    const scheduled = config.rules.filter((r) => r.schedule.kind !== 'manual' && holdsOf(r).ruleHold === null).map((r) => r.id);
    if (queue.workers === 0 && scheduled.length > 0) {
      findings.push({ severity: 'problem', rule: null, kind: 'no-worker', message: `no worker is connected to the queue: scheduled rules are not being swept (${scheduled.join(', ')})` });
    }
  }

  const requests = await requestsNow(runtime, now);
  if (requests.overdue > 0) {
    findings.push({ severity: 'problem', rule: null, kind: 'overdue-request', message: `${requests.overdue} erasure request${requests.overdue === 1 ? ' is' : 's are'} overdue (see retention requests --overdue)` });
  }

  const audit = slow?.audit ?? (await auditNow(runtime));
  if (audit.ok === false) findings.push({ severity: 'problem', rule: null, kind: 'audit', message: `the audit chain is broken at entry ${audit.seq}: ${audit.problem}` });
  if (audit.ok === null) findings.push({ severity: 'unknown', rule: null, kind: 'audit', message: `the audit chain was not verified: ${audit.reason}` });

  return { now, rules, requests, queue, audit, findings };
}

/** The last sweep was blocked: its reason and the command that confirms it, while the rule is defined as it was then. */
function blockedBy(rule: Rule, last: SweepRecord | null): RuleStatus['blocked'] {
  if (last?.status !== 'blocked' || !last.blocked) return null;
  const sameRule = last.ruleHash === rule.hash;
  return {
    sweepId: last.id,
    reason: last.blocked.reason,
    affected: last.blocked.affected,
    command: sameRule ? `retention run --rule ${rule.id} --confirm ${last.blocked.confirmToken}` : null,
  };
}

async function nextRunOf(queue: SweepQueue, rule: Rule): Promise<NextRunStatus> {
  if (rule.schedule.kind === 'manual') return { kind: 'manual' };
  try {
    const { scheduler, nextExpiry } = await nextRun(queue, rule);
    const schedule = scheduler?.at ?? null;
    const candidates = [schedule, nextExpiry].filter((x): x is number => x !== null);
    return {
      kind: 'scheduled',
      at: candidates.length === 0 ? null : new Date(Math.min(...candidates)),
      schedule: schedule === null ? null : new Date(schedule),
      registered: scheduler !== null,
      current: scheduler?.current ?? false,
      nextExpiry: nextExpiry === null ? null : new Date(nextExpiry),
    };
  } catch (error) {
    return { kind: 'unknown', reason: redactText((error as Error).message) };
  }
}

/**
 * The rule's lag now, judged against its schedule. Items of held subjects are left out
 * when their ids can be opened; a rule on hold is not judged (the hold keeps it from
 * sweeping, on purpose).
 */
async function lagOf(runtime: Runtime, rule: Rule, now: Date, held: readonly string[] | null, onHold: boolean): Promise<LagStatus> {
  const store = runtime.storeFor(rule);
  if (!store.oldestPending) {
    try {
      return await countedLag(runtime, rule, now, held, onHold);
    } catch (error) {
      return { kind: 'unknown', reason: `store ${rule.store} could not count its expired items: ${redactText((error as Error).message)}`, error: true };
    }
  }
  let lag;
  try {
    lag = await sweepLag(runtime, rule, now, planSweep(rule, now).ranges, held ?? []);
  } catch (error) {
    return { kind: 'unknown', reason: `store ${rule.store} did not answer: ${redactText((error as Error).message)}`, error: true };
  }
  if (!lag) return { kind: 'unknown', reason: `store ${rule.store} cannot tell its oldest expired item`, error: false };
  const end = lag.oldestExpiredEnd === null ? null : Date.parse(lag.oldestExpiredEnd);
  const limit = end === null || onHold ? null : lateAfter(rule.schedule, rule.timezone, end);
  return {
    kind: 'known',
    ms: lag.lagMs,
    oldestExpiredEnd: end === null ? null : new Date(end),
    lateAfter: limit === null ? null : new Date(limit),
    late: limit !== null && now.getTime() > limit,
    heldIncluded: held === null,
  };
}

function ruleFindings(status: RuleStatus, queue: QueueHealth | { error: string }): StatusFinding[] {
  const { rule, last, lag, next } = status;
  const found: StatusFinding[] = [];
  const problem = (kind: StatusFinding['kind'], message: string) => found.push({ severity: 'problem', rule: rule.id, kind, message });
  if (status.blocked) {
    problem(
      'blocked',
      `rule ${rule.id}: its last sweep (${status.blocked.sweepId}) was blocked and touched nothing: it ${status.blocked.reason}; ` +
        (status.blocked.command ? `if this is intended: ${status.blocked.command}` : `the rule changed since; run "retention plan --rule ${rule.id}" for a token`),
    );
  }
  if (last?.status === 'failed') problem('failed', `rule ${rule.id}: its last sweep (${last.id}) failed: ${last.reason ?? 'no reason recorded'}`);
  // Ended early and nothing done since: what it was to remove may still be there, whatever
  // the lag can tell (a store kind that cannot tell its lag would otherwise look fine).
  if (last?.status === 'superseded' || last?.status === 'cancelled') {
    problem('ended-early', `rule ${rule.id}: its last sweep (${last.id}) was ${last.status}${last.reason ? ` (${last.reason})` : ''} and no sweep is done since: run it again (retention run --rule ${rule.id}) or wait for its schedule`);
  }
  if (lag.kind === 'known' && lag.late) {
    const message = `rule ${rule.id} is late: the oldest expired item still present reached its end at ${lag.oldestExpiredEnd!.toISOString()}, and its schedule should have swept it by ${lag.lateAfter!.toISOString()}`;
    if (lag.heldIncluded) found.push({ severity: 'unknown', rule: rule.id, kind: 'lag', message: `${message} (it may be an item a legal hold keeps: set RETENTION_AUDIT_KEY to tell)` });
    else problem('late', message);
  }
  if (lag.kind === 'counted' && lag.late !== null && lag.late > 0) {
    const message = `rule ${rule.id} is late: ${count(lag.late, 'item')} past ${lag.late === 1 ? 'its' : 'their'} end by more than ${isoDuration(lag.thresholdMs!)}, which its schedule should have swept by now`;
    if (lag.heldIncluded) found.push({ severity: 'unknown', rule: rule.id, kind: 'lag', message: `${message} (they may be items a legal hold keeps: set RETENTION_AUDIT_KEY to tell)` });
    else problem('late', message);
  }
  // A manual rule has no schedule to be late by, but an expired item still present is a
  // promise not yet kept: never "all promises kept" while one is there. A hold keeps it on purpose.
  if (lag.kind === 'counted' && lag.pending !== null && lag.pending > 0 && rule.schedule.kind === 'manual' && status.holds.ruleHold === null) {
    found.push({
      severity: 'unknown',
      rule: rule.id,
      kind: 'manual-pending',
      message: `rule ${rule.id}: expired items present (${lag.pending}), manual rule: run it (retention run --rule ${rule.id})`,
    });
  }
  if (lag.kind === 'known' && lag.ms > 0 && rule.schedule.kind === 'manual' && status.holds.ruleHold === null) {
    found.push({
      severity: 'unknown',
      rule: rule.id,
      kind: 'manual-pending',
      message: `rule ${rule.id}: expired items present (the oldest reached its end at ${lag.oldestExpiredEnd?.toISOString() ?? 'an unknown time'}), manual rule: run it (retention run --rule ${rule.id})`,
    });
  }
  // Unknown lag, read or not: nothing says the rule keeps up (a rule on hold is not judged).
  if (lag.kind === 'unknown' && (lag.error || status.holds.ruleHold === null)) {
    found.push({ severity: 'unknown', rule: rule.id, kind: 'lag', message: `rule ${rule.id}: lag ${lag.error ? 'unknown' : 'not checked'}: ${lag.reason}` });
  }
  // With no worker at all, the one finding about workers says it for every rule.
  if (next.kind === 'scheduled' && !next.registered && status.holds.ruleHold === null && !('error' in queue) && queue.workers > 0) {
    problem('not-scheduled', `rule ${rule.id} has a schedule (${scheduleText(rule)}) but no job scheduler in the queue: the workers run a config without it`);
  }
  // A scheduler for another definition of the rule: its jobs are refused by a worker on this
  // config, and a worker on the other config sweeps by a rule this config does not state.
  if (next.kind === 'scheduled' && next.registered && !next.current && status.holds.ruleHold === null && !('error' in queue) && queue.workers > 0) {
    problem('not-scheduled', `rule ${rule.id}: the job scheduler in the queue carries another definition of the rule: the workers run a config that defines it differently (restart them on this config)`);
  }
  return found;
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** A threshold as the config writes durations, `PT1H15M`, floored to the second: "more than" it stays true. */
const isoDuration = (ms: number) => Duration.fromMillis(Math.floor(ms / 1_000) * 1_000).shiftTo('days', 'hours', 'minutes', 'seconds').toISO();

/** `PT1H`, a cron pattern, or `manual`, as the config wrote it. */
export function scheduleText(rule: Rule): string {
  return rule.schedule.kind === 'every' ? rule.schedule.iso : rule.schedule.kind === 'cron' ? rule.schedule.pattern : 'manual';
}

async function requestsNow(runtime: Runtime, now: Date): Promise<StatusReport['requests']> {
  const { state, config } = runtime;
  const open = await listRequests(state.db.pool, state, { open: true });
  // Overdue for status: past the deadline, or past the deadline to acknowledge receipt.
  const isOverdue = (r: (typeof open)[number]) => {
    const u = requestUrgency(r, now, config.timezone, 0);
    return u.urgency === 'overdue' || u.acknowledgementOverdue;
  };
  // Listed by deadline: the first is the nearest.
  const first = open[0];
  return {
    open: open.length,
    overdue: open.filter(isOverdue).length,
    nearest: first ? { id: first.id, dueAt: first.dueAt, daysLeft: daysLeft(first.dueAt, now, config.timezone), overdue: isOverdue(first) } : null,
  };
}

async function auditNow(runtime: Runtime): Promise<StatusReport['audit']> {
  const problem = auditKeyProblem(runtime.state.auditKey);
  if (problem !== null) return { ok: null, reason: problem };
  const result = await verifyAudit(runtime.state);
  return result.ok ? { ok: true, entries: result.entries, legacy: result.legacy } : { ok: false, entries: result.entries, seq: result.seq, problem: result.problem };
}

/**
 * Never-store incidents by rule, from the closing entries that record one
 * (src/audit/never-store-incident.ts). Entries written before incidents were recorded
 * carry none: a rule without any has none to show.
 */
async function incidentsByRule(runtime: Runtime): Promise<Map<string, NonNullable<RuleStatus['incidents']>>> {
  const { state } = runtime;
  const { rows } = await state.db.pool.query<{ at: Date; entry: AuditEntry }>(`SELECT at, entry FROM ${state.table('audit_log')} WHERE entry ? 'incident' ORDER BY seq`);
  const byRule = new Map<string, NonNullable<RuleStatus['incidents']>>();
  for (const { at, entry } of rows) {
    const incident = incidentOf(entry);
    if (!incident) continue;
    const seen = byRule.get(incident.ruleId);
    byRule.set(incident.ruleId, { count: (seen?.count ?? 0) + 1, found: (seen?.found ?? 0) + incident.found, lastAt: at, lastSweepId: incident.sweepId });
  }
  return byRule;
}
