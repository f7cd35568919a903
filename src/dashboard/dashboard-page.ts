import { DateTime } from 'luxon';
import { countedLagText } from '../cli/format-counted-lag.js';
import { formatLag } from '../cli/format-lag.js';
import { redactText } from '../redact.js';
import { scheduleText, type RuleStatus, type StatusFinding, type StatusReport } from '../report/status.js';
import type { HoldRecord } from '../state/holds.js';
import type { DashboardData, DashboardRequest } from './dashboard-data.js';
import { forecastChart, ruleColour } from './forecast-chart.js';
import { html, type Html } from './html.js';
import type { Reading } from './reading-cache.js';
import { QUEUES_PATH } from './security-headers.js';

/** What the page says about where it runs, beside the data. */
export interface PageContext {
  /** The config file the dashboard reads (as given). */
  configFile: string;
  /** The config's time zone: dates of weeks and deadlines are shown in it. */
  zone: string;
  /** The page reloads itself this often; the data is read at most this often too. */
  refreshSeconds: number;
  /** The forecast, the audit chain's verification and the incidents are read at most this often. */
  slowRefreshSeconds: number;
}

/** `2026-03-01 10:00:00Z`: seconds are enough for a person. */
const when = (d: Date | null | undefined) => (d ? d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z') : '');
const count = (n: number, noun: string, plural = `${noun}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
const fmt = (n: number) => n.toLocaleString('en-US');

/**
 * Pure: the whole dashboard page. Every value from the config, the state database or a
 * store goes through the `html` tag, which escapes it. No script: the page refreshes itself
 * with a meta refresh, and its chart is SVG.
 */
export function dashboardPage(reading: Reading<DashboardData>, context: PageContext): string {
  const data = reading.value;
  const body = data === null ? unavailable(reading) : html`${staleBanner(reading)}${content(data, context)}`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="${context.refreshSeconds}">
<title>retention dashboard</title>
<link rel="stylesheet" href="/assets/dashboard.css">
</head>
<body>
<header>
<h1>retention</h1>
<p>config <code>${context.configFile}</code></p>
${data ? html`<p>state database clock ${when(data.status.now)}</p>` : null}
${reading.readAt !== null ? html`<p>read ${when(new Date(reading.readAt))}, refreshed every ${context.refreshSeconds}s</p>` : null}
${data ? html`<p id="slow-read">forecast, audit chain and incidents read ${when(new Date(data.slow.readAt))}, every ${context.slowRefreshSeconds}s${data.slow.error !== null ? html` <span class="pill warn">stale: their last refresh failed: ${redactText(data.slow.error)}</span>` : null}</p>` : null}
<p><a href="${QUEUES_PATH}">queues (Bull Board)</a></p>
</header>
<main>
${body}
</main>
<footer>Read-only. Times in UTC; weeks and deadlines in ${context.zone}. <code>retention status</code> and <code>retention forecast</code> print the same figures.</footer>
</body>
</html>
`.text;
}

function unavailable(reading: Reading<DashboardData>): Html {
  return html`<div class="banner bad" id="unavailable"><strong>The dashboard could not read its data.</strong>
<ul><li>${redactText(reading.error ?? 'not read yet')}</li></ul></div>`;
}

function staleBanner(reading: Reading<DashboardData>): Html | null {
  if (reading.error === null) return null;
  return html`<div class="banner warn" id="stale"><strong>Stale: the last refresh failed</strong>; showing what was read at ${when(new Date(reading.readAt!))}.
<ul><li>${redactText(reading.error)}</li></ul></div>`;
}

function content(data: DashboardData, context: PageContext): Html {
  return html`${findingsBanner(data.status.findings)}
${overview(data)}
${rulesSection(data.status)}
${blockedSection(data.status)}
${incidentsSection(data.status)}
${requestsSection(data, context)}
${holdsSection(data)}
${forecastSection(data, context)}`;
}

function findingsBanner(findings: readonly StatusFinding[]): Html {
  const problems = findings.filter((f) => f.severity === 'problem');
  const unknown = findings.filter((f) => f.severity === 'unknown');
  if (problems.length === 0 && unknown.length === 0) return html`<div class="banner ok" id="findings"><strong>All promises kept.</strong></div>`;
  return html`<div id="findings">
${problems.length > 0 ? html`<div class="banner bad"><strong>${count(problems.length, 'promise')} not being kept</strong><ul>${problems.map((f) => html`<li>${f.message}</li>`)}</ul></div>` : null}
${unknown.length > 0 ? html`<div class="banner warn"><strong>${count(unknown.length, 'promise')} not shown to be kept</strong> (could not be checked, or waiting for a person)<ul>${unknown.map((f) => html`<li>${f.message}</li>`)}</ul></div>` : null}
</div>`;
}

function overview(data: DashboardData): Html {
  const { status } = data;
  const overdue = data.requests.filter((r) => r.urgency.urgency === 'overdue').length;
  const queue = status.queue;
  return html`<section id="overview"><dl class="facts">
<div><dt>rules</dt><dd>${status.rules.length}</dd></div>
<div><dt>blocked sweeps</dt><dd>${status.rules.filter((r) => r.blocked).length}</dd></div>
<div><dt>open erasure requests</dt><dd>${data.requests.length}${overdue > 0 ? html` <span class="pill bad">${overdue} overdue</span>` : null}</dd></div>
<div><dt>holds in force</dt><dd>${data.holds.length}</dd></div>
<div id="audit"><dt>audit chain</dt><dd>${auditCell(status.audit)}</dd></div>
<div id="queue"><dt>queue</dt><dd>${'error' in queue ? html`<span class="pill bad">cannot be read</span>` : html`${queue.paused ? html`<span class="pill bad">paused</span> ` : null}${count(queue.workers, 'worker')}`}</dd>
${'error' in queue ? html`<span class="sub">${queue.error}</span>` : html`<span class="sub">${queue.waiting} waiting, ${queue.active} active, ${queue.delayed} delayed, ${queue.failed} failed</span>`}</div>
</dl></section>`;
}

function auditCell(audit: StatusReport['audit']): Html {
  if (audit.ok === true) return html`<span class="pill ok">OK</span> <span class="sub">${count(audit.entries, 'entry', 'entries')} verified${audit.legacy > 0 ? `, entries 1-${audit.legacy} unkeyed legacy` : ''}</span>`;
  if (audit.ok === false) return html`<span class="pill bad">BROKEN at entry ${audit.seq}</span> <span class="sub">${audit.problem}</span>`;
  return html`<span class="pill warn">not verified</span> <span class="sub">${audit.reason}</span>`;
}

function rulesSection(status: StatusReport): Html {
  return html`<section id="rules"><h2>Rules <span class="count">(${status.rules.length})</span></h2>
<table>
<thead><tr><th>rule</th><th>promise (source)</th><th>what</th><th>schedule</th><th>last sweep</th><th class="num">rows removed</th><th>next run</th><th>retention lag</th><th>holds</th><th>state</th></tr></thead>
<tbody>
${status.rules.map((s) => ruleRow(s, status.findings))}
</tbody>
</table></section>`;
}

function ruleRow(s: RuleStatus, findings: readonly StatusFinding[]): Html {
  const { rule } = s;
  return html`<tr data-rule="${rule.id}">
<td class="id"><strong>${rule.id}</strong></td>
<td class="source" data-field="source">${rule.source}</td>
<td>${rule.action} <span class="sub">${rule.store}: ${s.target}</span> <span class="sub">keep ${rule.retain}</span></td>
<td>${scheduleText(rule)}</td>
<td data-field="last-sweep">${lastSweep(s)}</td>
<td class="num" data-field="rows-removed">${rowsRemoved(s)}</td>
<td data-field="next-run">${nextRun(s)}</td>
<td data-field="lag">${lag(s)}</td>
<td>${holds(s)}</td>
<td data-field="state">${state(s, findings)}</td>
</tr>`;
}

function lastSweep(s: RuleStatus): Html {
  const last = s.last;
  if (!last) return html`<span class="pill muted">never swept</span>`;
  const tone = last.status === 'done' ? 'ok' : last.status === 'running' ? 'muted' : 'bad';
  const label = last.status === 'running' ? `running ${last.batchesDone}/${last.batchesTotal}` : last.status;
  const { failed, superseded, cancelled } = s.endedSinceDone;
  const early = [failed && `${failed} failed`, superseded && `${superseded} superseded`, cancelled && `${cancelled} cancelled`].filter(Boolean).join(', ');
  return html`<span class="pill ${tone}">${label}</span> <span class="sub">${when(last.finishedAt ?? last.createdAt)} by ${last.actor} (${last.trigger})</span>
${last.reason ? html`<span class="sub">${last.reason}</span>` : null}${early ? html`<span class="sub">since the last done: ${early}</span>` : null}`;
}

/** The rows the last completed sweep removed (deleted or anonymized); a running sweep's rows so far beside it. */
function rowsRemoved(s: RuleStatus): Html {
  const done = s.lastDone;
  const running = s.last?.status === 'running' ? s.last : null;
  return html`${done ? fmt(done.rowsAffected) : '-'}${done && done.rowsHeld > 0 ? html`<span class="sub">${fmt(done.rowsHeld)} kept on hold</span>` : null}${running ? html`<span class="sub">${fmt(running.rowsAffected)} so far in the running sweep</span>` : null}`;
}

function nextRun(s: RuleStatus): Html {
  const next = s.next;
  if (next.kind === 'manual') return html`<span class="pill muted">manual</span>`;
  if (next.kind === 'unknown') return html`<span class="pill warn">unknown</span> <span class="sub">${next.reason}</span>`;
  if (!next.at) return html`<span class="pill ${next.registered ? 'muted' : 'bad'}">${next.registered ? 'none queued' : 'not scheduled'}</span>`;
  const kind = next.nextExpiry !== null && next.at.getTime() === next.nextExpiry.getTime() ? 'next expiry' : 'schedule';
  return html`${when(next.at)} <span class="sub">${kind}${next.registered && !next.current ? '; the scheduler carries another definition of the rule' : ''}</span>`;
}

function lag(s: RuleStatus): Html {
  const lagged = s.lag;
  if (lagged.kind === 'unknown') return html`<span class="pill ${lagged.error ? 'warn' : 'muted'}">unknown</span> <span class="sub">${lagged.reason}</span>`;
  if (lagged.kind === 'counted') {
    const text = countedLagText(lagged);
    const late = lagged.late !== null && lagged.late > 0;
    const manualPending = !late && lagged.pending !== null && lagged.pending > 0 && s.rule.schedule.kind === 'manual';
    return html`${late ? html`<span class="pill bad">${text}</span>` : manualPending ? html`<span class="pill warn">${text}</span> <span class="sub">expired items present, manual rule: run it</span>` : text}${late ? html`<span class="sub">${count(lagged.late!, 'item')} late</span>` : null}${lagged.heldIncluded ? html`<span class="sub">may count items on hold</span>` : null}`;
  }
  const text = lagged.ms === 0 ? '0' : formatLag(lagged.ms);
  // A manual rule is never late by a schedule, but expired items present are not fine either.
  const manualPending = !lagged.late && lagged.ms > 0 && s.rule.schedule.kind === 'manual';
  return html`${lagged.late ? html`<span class="pill bad">${text} LATE</span>` : manualPending ? html`<span class="pill warn">${text}</span> <span class="sub">expired items present, manual rule: run it</span>` : text}${lagged.oldestExpiredEnd ? html`<span class="sub">oldest expired item ended ${when(lagged.oldestExpiredEnd)}</span>` : null}${lagged.heldIncluded ? html`<span class="sub">may count items on hold</span>` : null}`;
}

function holds(s: RuleStatus): Html {
  const parts = [s.holds.ruleHold ? html`<span class="pill warn">on hold</span> <span class="sub">${s.holds.ruleHold.reason}</span>` : null, s.holds.subjectHolds > 0 ? html`<span class="sub">${count(s.holds.subjectHolds, 'subject')} kept</span>` : null];
  return html`${parts}`;
}

function state(s: RuleStatus, findings: readonly StatusFinding[]): Html {
  const mine = findings.filter((f) => f.rule === s.rule.id);
  const problems = [...new Set(mine.filter((f) => f.severity === 'problem').map((f) => f.kind))];
  if (problems.length > 0) return html`${problems.map((k) => html`<span class="pill bad">${k.toUpperCase()}</span> `)}`;
  if (mine.length > 0) return html`<span class="pill warn">unknown</span>`;
  return s.holds.ruleHold ? html`<span class="pill warn">on hold</span>` : html`<span class="pill ok">ok</span>`;
}

function blockedSection(status: StatusReport): Html {
  const blocked = status.rules.filter((s) => s.blocked);
  return html`<section id="blocked"><h2>Blocked sweeps <span class="count">(${blocked.length})</span></h2>
${blocked.length === 0
    ? html`<p class="empty">No sweep is blocked by its limits.</p>`
    : html`<table><thead><tr><th>rule</th><th>sweep</th><th>why it stopped (nothing was touched)</th><th class="num">would change</th><th>if intended, confirm with</th></tr></thead><tbody>
${blocked.map((s) => html`<tr data-rule="${s.rule.id}"><td><strong>${s.rule.id}</strong></td><td><code>${s.blocked!.sweepId}</code></td><td>${s.blocked!.reason}</td><td class="num">${fmt(s.blocked!.affected)}</td>
<td data-field="confirm">${s.blocked!.command ? html`<code>${s.blocked!.command}</code>` : html`the rule changed since: <code>retention plan --rule ${s.rule.id}</code> gives a new token`}</td></tr>`)}
</tbody></table>`}</section>`;
}

function incidentsSection(status: StatusReport): Html | null {
  const withIncidents = status.rules.filter((s) => s.incidents);
  if (withIncidents.length === 0) return null;
  return html`<section id="incidents"><h2>Never-store incidents <span class="count">(${withIncidents.length} rules)</span></h2>
<table><thead><tr><th>rule</th><th class="num">incidents</th><th class="num">items found</th><th>last</th><th>sweep</th></tr></thead><tbody>
${withIncidents.map((s) => html`<tr data-rule="${s.rule.id}"><td><strong>${s.rule.id}</strong></td><td class="num">${fmt(s.incidents!.count)}</td><td class="num">${fmt(s.incidents!.found)}</td><td>${when(s.incidents!.lastAt)}</td><td><code>${s.incidents!.lastSweepId}</code></td></tr>`)}
</tbody></table></section>`;
}

function requestsSection(data: DashboardData, context: PageContext): Html {
  const overdue = data.requests.filter((r) => r.urgency.urgency === 'overdue').length;
  const soon = data.requests.filter((r) => r.urgency.urgency === 'due-soon').length;
  return html`<section id="requests"><h2>Erasure requests <span class="count">(${data.requests.length} open, ${overdue} overdue, ${soon} due within ${data.dueWithinDays} days)</span></h2>
${data.requests.length === 0
    ? html`<p class="empty">No erasure request is open.</p>`
    : html`<table><thead><tr><th>request</th><th>status</th><th>received</th><th>due (${context.zone})</th><th class="num">days left</th><th>acknowledgement</th><th>why waiting</th></tr></thead><tbody>
${data.requests.map(requestRow)}
</tbody></table>`}</section>`;
}

function requestRow({ request: r, urgency }: DashboardRequest): Html {
  const left = urgency.daysLeft < 0 ? html`<span class="pill bad">${-urgency.daysLeft} days overdue</span>` : urgency.urgency === 'overdue' ? html`<span class="pill bad">overdue</span>` : fmt(urgency.daysLeft);
  const ack =
    r.acknowledgeDueAt === null ? '' : r.acknowledgedAt ? `acknowledged ${when(r.acknowledgedAt)}` : html`${urgency.acknowledgementOverdue ? html`<span class="pill bad">overdue</span> ` : null}due ${when(r.acknowledgeDueAt)}`;
  return html`<tr class="${urgency.urgency}" data-request="${r.id}"><td><code>${r.id}</code></td><td>${r.status}</td><td>${when(r.receivedAt)}</td><td>${when(r.dueAt)}${r.extendedAt ? html`<span class="sub">extended from ${when(r.originalDueAt)}</span>` : null}</td>
<td class="num" data-field="days-left">${left}</td><td>${ack}</td><td>${r.waitingReason ?? ''}</td></tr>`;
}

function holdsSection(data: DashboardData): Html {
  return html`<section id="holds"><h2>Legal holds in force <span class="count">(${data.holds.length})</span></h2>
${data.holds.length === 0 ? html`<p class="empty">No hold is in force.</p>` : html`<table><thead><tr><th>hold</th><th>keeps</th><th>reason</th><th>until</th><th>placed</th></tr></thead><tbody>
${data.holds.map(holdRow)}
</tbody></table>`}</section>`;
}

/** A subject hold names its subject by the start of its digest only: the dashboard never shows whom. */
function holdRow(h: HoldRecord): Html {
  const keeps = h.subjectDigest === null ? html`rule <strong>${h.ruleId}</strong> (whole)` : html`a subject <code>${h.subjectDigest.slice(0, 12)}…</code> in ${h.ruleId === null ? 'every rule' : html`rule <strong>${h.ruleId}</strong>`}`;
  return html`<tr data-hold="${h.id}"><td><code>${h.id}</code></td><td>${keeps}</td><td>${h.reason}</td><td>${h.until ? when(h.until) : 'released by hand'}</td><td>${when(h.createdAt)} <span class="sub">by ${h.createdBy}</span></td></tr>`;
}

function forecastSection(data: DashboardData, context: PageContext): Html {
  const { forecast } = data;
  const local = (d: Date) => DateTime.fromJSDate(d, { zone: context.zone }).toFormat('LLL d');
  const cell = (n: number | null | undefined) => (n === null || n === undefined ? '-' : fmt(n));
  return html`<section id="forecast"><h2>Forecast <span class="count">(items reaching the end of their retention period, next ${forecast.weeks.length} weeks)</span></h2>
<div class="chart">${forecastChart(forecast, context.zone)}</div>
<table><thead><tr><th>rule</th><th class="num">due now</th>${forecast.weeks.map((w) => html`<th class="num" title="${w.start.toISOString()} to ${w.end.toISOString()}">${local(w.start)}</th>`)}<th class="num">total</th></tr></thead><tbody>
${forecast.rules.map(
    (r, i) => html`<tr data-rule="${r.rule.id}"><td><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${ruleColour(i)}"/></svg> <strong>${r.rule.id}</strong>${r.error !== null ? html`<span class="sub">could not be counted: ${r.error}</span>` : null}${r.ruleHold ? html`<span class="sub">on hold${r.ruleHold.until ? html` until ${when(r.ruleHold.until)}` : ' until released'}: nothing is removed while it lasts</span>` : null}${r.held === 'excluded' ? html`<span class="sub">items of subjects on hold left out</span>` : r.held === 'included' ? html`<span class="sub">items of subjects on hold counted (no audit key)</span>` : null}</td>
<td class="num" data-field="pending">${cell(r.pending)}</td>${(r.weeks ?? forecast.weeks.map(() => null)).map((n) => html`<td class="num">${cell(n)}</td>`)}<td class="num" data-field="total">${cell(r.weeks === null ? null : r.weeks.reduce((a, b) => a + b, 0))}</td></tr>`,
  )}
</tbody></table></section>`;
}
