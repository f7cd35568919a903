import type { Command } from 'commander';
import { UserError } from '../errors.js';
import { describeOrigin, type Config } from '../policy/config.js';
import { openReadOnlyQueue } from '../queue/read-only-queue.js';
import { createRedis, probeRedis } from '../queue/redis-connection.js';
import type { SweepQueue } from '../queue/sweep-queue.js';
import { redactText } from '../redact.js';
import { gatherStatus, scheduleText, type QueueAccess, type RuleStatus, type StatusFinding, type StatusReport } from '../report/status.js';
import type { SweepRecord } from '../state/sweeps.js';
import { countedLagText, floorToMinute } from './format-counted-lag.js';
import { formatLag } from './format-lag.js';
import { formatTable } from './format-table.js';
import { CONFIG_OPTION, readConfig, type ConfigOption } from './load-runtime.js';
import { withStateOnly } from './with-state.js';

interface StatusOptions extends ConfigOption {
  json?: boolean;
}

/** Exit code when a promise is not being kept (a rule blocked, failed or late, an overdue request, a broken audit chain, no worker). */
export const EXIT_NOT_KEPT = 1;
/** Exit code when nothing was found wrong but something could not be checked (a store not answering, no audit key). */
export const EXIT_UNKNOWN = 3;

/** `retention status`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function defineStatus(status: Command): void {
  status
    .option(...CONFIG_OPTION)
    .option('--json', 'print the report as JSON')
    .action(async (options: StatusOptions) => {
      const config = readConfig(options);
      let report: StatusReport | undefined;
      await withStateOnly(config, async (runtime) => {
        const queue = await openQueueForReading(config);
        try {
          report = await gatherStatus(runtime, 'queue' in queue ? { queue: queue.queue } : queue);
        } finally {
          if ('queue' in queue) await queue.close();
        }
      });
      const done = report!;
      const problems = done.findings.filter((f) => f.severity === 'problem');
      const unknown = done.findings.filter((f) => f.severity === 'unknown');
      const exitCode = problems.length > 0 ? EXIT_NOT_KEPT : unknown.length > 0 ? EXIT_UNKNOWN : 0;
      console.log(options.json ? JSON.stringify(statusJson(done, exitCode)) : formatStatus(done));
      // Thrown, not set on process.exitCode: the bin sets the exit code from what main returns.
      if (problems.length > 0) throw new UserError(`status: ${count(problems.length, 'promise')} not being kept`, { exitCode: EXIT_NOT_KEPT });
      if (unknown.length > 0) throw new UserError(`status: ${count(unknown.length, 'promise')} not shown to be kept (could not be checked, or waiting for a person)`, { exitCode: EXIT_UNKNOWN });
    });
}

/**
 * The queue, read only, or why it cannot be read. A Redis that does not answer is a
 * finding of the report (no sweep can run), not a reason to print nothing.
 */
async function openQueueForReading(config: Config): Promise<QueueAccess & { close(): Promise<void> }> {
  try {
    await probeRedis(config.redis, describeOrigin(config, 'redis'));
  } catch (error) {
    return { error: redactText((error as Error).message), close: async () => undefined };
  }
  // A report must not wait for ever on a Redis that goes away midway: fail the command instead.
  const connection = createRedis(config.redis, { maxRetriesPerRequest: 1 });
  connection.on('error', () => undefined);
  const queue: SweepQueue = openReadOnlyQueue(connection, config.queuePrefix);
  return {
    queue,
    close: async () => {
      await queue.close().catch(() => undefined);
      connection.disconnect();
    },
  };
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** `2026-03-01T10:00:00Z`: seconds are enough for a person. */
const when = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function lastSweepCells(last: SweepRecord | null): [string, string, string, number | string] {
  if (!last) return ['never swept', '', '', ''];
  if (last.status === 'running') return [`running ${last.batchesDone}/${last.batchesTotal}`, when(last.createdAt), `${last.actor} (${last.trigger})`, last.rowsAffected];
  return [last.status, when(last.finishedAt ?? last.createdAt), `${last.actor} (${last.trigger})`, last.status === 'blocked' ? `(${last.blocked?.affected ?? '?'})` : last.rowsAffected];
}

function endedEarly(s: RuleStatus): string {
  const { failed, superseded, cancelled } = s.endedSinceDone;
  return [failed && `${failed} failed`, superseded && `${superseded} superseded`, cancelled && `${cancelled} cancelled`].filter(Boolean).join(', ');
}

function nextCell(s: RuleStatus): string {
  const next = s.next;
  if (next.kind === 'manual') return 'manual';
  if (next.kind === 'unknown') return 'unknown';
  if (!next.at) return next.registered ? 'none queued' : 'not scheduled';
  return `${when(next.at)} (${next.nextExpiry !== null && next.at.getTime() === next.nextExpiry.getTime() ? 'next expiry' : scheduleText(s.rule)})`;
}

function lagCell(s: RuleStatus): string {
  if (s.lag.kind === 'unknown') return 'unknown';
  if (s.lag.kind === 'counted') return countedLagText(s.lag);
  return `${s.lag.ms === 0 ? '0' : formatLag(s.lag.ms)}${s.lag.late ? ' LATE' : ''}`;
}

function holdsCell(s: RuleStatus): string {
  return [s.holds.ruleHold && `rule hold ${s.holds.ruleHold.id}`, s.holds.subjectHolds > 0 && count(s.holds.subjectHolds, 'subject')].filter(Boolean).join(', ');
}

function stateCell(findings: readonly StatusFinding[], s: RuleStatus): string {
  const mine = findings.filter((f) => f.rule === s.rule.id);
  const words = [...new Set(mine.filter((f) => f.severity === 'problem').map((f) => f.kind.toUpperCase()))];
  if (mine.some((f) => f.severity === 'unknown')) words.push('unknown');
  if (s.holds.ruleHold) words.push('on hold');
  return words.length === 0 ? 'ok' : words.join(', ');
}

/** The report for a terminal: a table of rules, then what is wrong, requests, the queue and the audit chain. */
export function formatStatus(report: StatusReport): string {
  const out: string[] = [`now: ${report.now.toISOString()} (state database clock)`, ''];
  out.push(
    formatTable(
      ['rule', 'last sweep', 'at', 'by', 'rows', 'ended early since done', 'next run', 'lag', 'holds', 'state'],
      report.rules.map((s) => [s.rule.id, ...lastSweepCells(s.last), endedEarly(s), nextCell(s), lagCell(s), holdsCell(s), stateCell(report.findings, s)]),
    ),
  );
  const problems = report.findings.filter((f) => f.severity === 'problem');
  const unknown = report.findings.filter((f) => f.severity === 'unknown');
  if (problems.length > 0) out.push('', 'Promises not being kept:', ...problems.map((f) => `  ${f.message}`));
  if (unknown.length > 0) out.push('', 'Not shown to be kept (could not be checked, or waiting for a person):', ...unknown.map((f) => `  ${f.message}`));
  const notes = report.rules.flatMap(ruleNotes);
  if (notes.length > 0) out.push('', 'Notes:', ...notes.map((n) => `  ${n}`));
  out.push('', requestsLine(report.requests), queueLine(report.queue), auditLine(report.audit));
  if (problems.length === 0 && unknown.length === 0) out.push('', 'all promises kept');
  return out.join('\n');
}

function ruleNotes(s: RuleStatus): string[] {
  const id = s.rule.id;
  const notes: string[] = [];
  if (s.lag.kind === 'known' && s.lag.ms > 0 && s.lag.oldestExpiredEnd) {
    notes.push(
      `${id}: the oldest expired item still present reached its end at ${when(s.lag.oldestExpiredEnd)}` +
        (s.lag.lateAfter ? `; late after ${when(s.lag.lateAfter)}` : s.rule.schedule.kind === 'manual' ? ' (a manual rule: nothing runs it but a person)' : ''),
    );
  }
  if (s.lag.kind === 'counted' && s.lag.pending !== null && s.lag.pending > 0) {
    notes.push(
      `${id}: ${count(s.lag.pending, 'expired item')} present` +
        (s.lag.thresholdMs !== null ? `, none past its end by more than ${formatLag(floorToMinute(s.lag.thresholdMs))}` : '') +
        ` (a ${s.rule.kind} store can count them, not tell when the oldest reached its end)`,
    );
  }
  if (s.lag.kind !== 'unknown' && s.lag.heldIncluded) notes.push(`${id}: its lag may count items a legal hold keeps (set RETENTION_AUDIT_KEY to leave them out)`);
  if (s.lag.kind === 'unknown' && !s.lag.error && s.holds.ruleHold) notes.push(`${id}: lag unknown: ${s.lag.reason}`);
  if (s.next.kind === 'scheduled' && s.next.registered && !s.next.current) {
    notes.push(`${id}: the job scheduler in the queue carries another definition of the rule: the workers run a config that defines it differently`);
  }
  if (s.next.kind === 'unknown') notes.push(`${id}: next run unknown: ${s.next.reason}`);
  if (s.holds.ruleHold) notes.push(`${id}: on legal hold ${s.holds.ruleHold.id} (${s.holds.ruleHold.reason}): its sweeps do not start, and its lag is not judged`);
  if (s.incidents) {
    notes.push(`${id}: ${count(s.incidents.count, 'never-store incident')}, ${count(s.incidents.found, 'item')} found; the last at ${when(s.incidents.lastAt)} (sweep ${s.incidents.lastSweepId})`);
  }
  return notes;
}

function requestsLine(r: StatusReport['requests']): string {
  if (r.open === 0) return 'requests: none open';
  const nearest = r.nearest!;
  const left = nearest.daysLeft < 0 ? `${-nearest.daysLeft} days overdue` : nearest.overdue ? 'overdue' : `${nearest.daysLeft} days left`;
  return `requests: ${r.open} open, ${r.overdue} overdue; nearest deadline ${when(nearest.dueAt)} (${nearest.id}, ${left})`;
}

function queueLine(q: StatusReport['queue']): string {
  if ('error' in q) return `queue: cannot be read: ${q.error}`;
  return `queue: ${q.paused ? 'PAUSED; ' : ''}${q.waiting} waiting, ${q.active} active, ${q.delayed} delayed, ${q.failed} failed; ${count(q.workers, 'worker')} connected`;
}

function auditLine(a: StatusReport['audit']): string {
  if (a.ok === null) return `audit chain: not verified: ${a.reason}`;
  if (a.ok === false) return `audit chain: BROKEN at entry ${a.seq}: ${a.problem} (${a.entries} entries before it verify)`;
  return `audit chain: OK, ${a.entries} entr${a.entries === 1 ? 'y' : 'ies'} verified${a.legacy > 0 ? ` (entries 1-${a.legacy} are unkeyed legacy entries)` : ''}`;
}

const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);

function sweepJson(s: SweepRecord | null) {
  if (!s) return null;
  return {
    id: s.id,
    status: s.status,
    trigger: s.trigger,
    actor: s.actor,
    createdAt: s.createdAt.toISOString(),
    finishedAt: iso(s.finishedAt),
    rows: s.rowsAffected,
    batchesDone: s.batchesDone,
    batchesTotal: s.batchesTotal,
    reason: s.reason ?? s.blocked?.reason ?? null,
  };
}

function statusJson(report: StatusReport, exitCode: number) {
  return {
    now: report.now.toISOString(),
    ok: exitCode === 0,
    exitCode,
    findings: report.findings,
    rules: report.rules.map((s) => ({
      id: s.rule.id,
      source: s.rule.source,
      action: s.rule.action,
      store: s.rule.store,
      target: s.target,
      schedule: scheduleText(s.rule),
      lastSweep: sweepJson(s.last),
      lastDone: s.lastDone ? { id: s.lastDone.id, finishedAt: iso(s.lastDone.finishedAt), rows: s.lastDone.rowsAffected } : null,
      endedSinceDone: s.endedSinceDone,
      blocked: s.blocked,
      nextRun:
        s.next.kind === 'scheduled'
          ? { kind: s.next.kind, at: iso(s.next.at), schedule: iso(s.next.schedule), nextExpiry: iso(s.next.nextExpiry), registered: s.next.registered, current: s.next.current }
          : s.next,
      lag:
        s.lag.kind === 'known'
          ? { ms: s.lag.ms, oldestExpiredEnd: iso(s.lag.oldestExpiredEnd), lateAfter: iso(s.lag.lateAfter), late: s.lag.late, heldIncluded: s.lag.heldIncluded }
          : s.lag.kind === 'counted'
            ? // Counted: `ms` is known only when nothing expired is present.
              { ms: s.lag.pending === 0 ? 0 : null, late: (s.lag.late ?? 0) > 0, heldIncluded: s.lag.heldIncluded, pendingItems: s.lag.pending, lateItems: s.lag.late, thresholdMs: s.lag.thresholdMs }
            : { ms: null, unknown: s.lag.reason },
      holds: {
        rule: s.holds.ruleHold ? { id: s.holds.ruleHold.id, reason: s.holds.ruleHold.reason, until: iso(s.holds.ruleHold.until) } : null,
        subjects: s.holds.subjectHolds,
      },
      incidents: s.incidents ? { ...s.incidents, lastAt: s.incidents.lastAt.toISOString() } : null,
    })),
    requests: { ...report.requests, nearest: report.requests.nearest ? { ...report.requests.nearest, dueAt: report.requests.nearest.dueAt.toISOString() } : null },
    queue: report.queue,
    audit: report.audit,
  };
}
