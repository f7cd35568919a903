import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sweepRecordIncident } from '../audit/never-store-incident.js';
import type { ErrorKind } from '../executor/classify-error.js';
import type { RequestCounts } from '../people/request-urgency.js';
import type { Rule } from '../policy/rule.js';
import type { SweepEvent, SweepEvents } from '../runtime/sweep-events.js';
import type { CachedProbe } from './cached-probe.js';
import type { QueueState } from './queue-depth.js';
import type { RuleLags } from './rule-lags.js';

/** How a sweep can end, as `retention_sweeps_ended_total{status}` counts it. */
export const SWEEP_END_STATUSES = ['done', 'blocked', 'superseded', 'failed', 'cancelled'] as const;

/** Batch durations span a few milliseconds (nothing left) to minutes (a big batch behind a lock). */
const BATCH_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** What the gauges read on scrape; attached once the worker has connected (none before: no sample). */
export interface MetricSources {
  queueDepth: CachedProbe<Record<QueueState, number>>;
  ruleLags: RuleLags;
  requests: CachedProbe<RequestCounts>;
}

/**
 * One worker's Prometheus metrics, in a registry of its own (never prom-client's global
 * one), so tests and several workers in one process keep their numbers apart. Counters
 * count what this process did (sum them over the workers); gauges read shared state on
 * scrape (the queue, the stores, the state database), so every worker reports the same.
 * The README's "Metrics and health" lists each metric; a dashboard reads the same numbers
 * (`registry.getMetricsAsJSON()`).
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  readonly rowsChanged: Counter<'rule' | 'store' | 'action'>;
  readonly batchSeconds: Histogram<'rule'>;
  readonly sweepsEnded: Counter<'rule' | 'status'>;
  readonly sweepsBlocked: Counter<'rule'>;
  readonly errors: Counter<'kind' | 'job'>;
  readonly incidents: Counter<'rule'>;
  readonly incidentItems: Counter<'rule'>;
  #sources: MetricSources | null = null;

  /** `rules`: the config's, whose counters start at 0 (a rate over a series that appears late misses its first increase). */
  constructor(rules: readonly Rule[], options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.rowsChanged = new Counter({
      name: 'retention_rows_changed_total',
      help: 'Items changed (deleted, anonymized, given a TTL, archived...) by batches this worker ran, dry runs excluded, by rule, store and action.',
      labelNames: ['rule', 'store', 'action'],
      registers,
    });
    this.batchSeconds = new Histogram({
      name: 'retention_batch_duration_seconds',
      help: 'Time a batch took, from reading its sweep to its recorded commit, by rule.',
      labelNames: ['rule'],
      buckets: BATCH_SECONDS_BUCKETS,
      registers,
    });
    this.sweepsEnded = new Counter({
      name: 'retention_sweeps_ended_total',
      help: 'Sweeps this worker recorded as ended, dry runs excluded, by rule and status (done, blocked, superseded, failed, cancelled).',
      labelNames: ['rule', 'status'],
      registers,
    });
    this.sweepsBlocked = new Counter({
      name: 'retention_sweeps_blocked_total',
      help: 'Sweeps stopped by their blast-radius limits before touching anything, by rule.',
      labelNames: ['rule'],
      registers,
    });
    this.errors = new Counter({
      name: 'retention_errors_total',
      help: 'Failed job attempts, retried or not, by error kind (connection, lock, timeout, busy, refused, permanent) and job (sweep, batch, erase, drain-cascades).',
      labelNames: ['kind', 'job'],
      registers,
    });
    this.incidents = new Counter({
      name: 'retention_never_store_incidents_total',
      help: 'Sweeps of never-store rules (never: true) that found items present, by rule.',
      labelNames: ['rule'],
      registers,
    });
    this.incidentItems = new Counter({
      name: 'retention_never_store_items_found_total',
      help: 'Items those sweeps found present, by rule.',
      labelNames: ['rule'],
      registers,
    });
    const metrics = this;
    new Gauge({
      name: 'retention_queue_jobs',
      help: 'Jobs in the queue (all workers), by state: waiting, active, delayed, failed.',
      labelNames: ['state'],
      registers,
      async collect() {
        this.reset();
        const depth = await metrics.#sources?.queueDepth.get();
        for (const [state, n] of Object.entries(depth ?? {})) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'retention_lag_seconds',
      help: 'Per rule: how long ago the oldest expired item still present reached the end of its period (0: none). No sample when the store cannot tell.',
      labelNames: ['rule'],
      registers,
      async collect() {
        this.reset();
        const lags = await metrics.#sources?.ruleLags.read();
        for (const [rule, seconds] of lags ?? []) this.set({ rule }, seconds);
      },
    });
    const requestGauge = (name: string, help: string, pick: (counts: RequestCounts) => number) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.reset();
          const counts = await metrics.#sources?.requests.get();
          if (counts) this.set(pick(counts));
        },
      });
    requestGauge('retention_erasure_requests_open', 'Erasure requests not completed.', (c) => c.open);
    requestGauge('retention_erasure_requests_due_soon', 'Open erasure requests due within worker.alerts.requestsDueWithinDays days (not yet overdue).', (c) => c.dueSoon);
    requestGauge('retention_erasure_requests_overdue', 'Open erasure requests past their deadline.', (c) => c.overdue);
    requestGauge('retention_erasure_requests_acknowledgement_overdue', 'Open erasure requests whose receipt was not acknowledged by its deadline.', (c) => c.acknowledgementOverdue);

    for (const rule of rules) {
      this.rowsChanged.inc({ rule: rule.id, store: rule.store, action: rule.action }, 0);
      for (const status of SWEEP_END_STATUSES) this.sweepsEnded.inc({ rule: rule.id, status }, 0);
      this.sweepsBlocked.inc({ rule: rule.id }, 0);
      if (rule.never) {
        this.incidents.inc({ rule: rule.id }, 0);
        this.incidentItems.inc({ rule: rule.id }, 0);
      }
    }
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  /** The gauges' readings, once the worker is connected. */
  attach(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** Counts what the executor reports from now on; returns the function that stops it. */
  observe(events: SweepEvents): () => void {
    return events.on((event) => this.record(event));
  }

  record(event: SweepEvent): void {
    if (event.type === 'batch-applied') {
      // A dry run changes nothing: its counts are in its audit entries, not here.
      if (event.dryRun) return;
      this.rowsChanged.inc({ rule: event.ruleId, store: event.store, action: event.action }, event.rows);
      this.batchSeconds.observe({ rule: event.ruleId }, event.ms / 1000);
      return;
    }
    const { sweep } = event;
    if (sweep.dryRun) return;
    this.sweepsEnded.inc({ rule: sweep.ruleId, status: sweep.status });
    if (sweep.status === 'blocked') this.sweepsBlocked.inc({ rule: sweep.ruleId });
    const incident = sweepRecordIncident(sweep);
    if (incident) {
      this.incidents.inc({ rule: sweep.ruleId });
      this.incidentItems.inc({ rule: sweep.ruleId }, incident.found);
    }
  }

  /** A job attempt that failed (retried or not), by the kind of its error. */
  countFailure(job: string, kind: ErrorKind): void {
    this.errors.inc({ kind, job });
  }

  /** The exposition text `/metrics` serves. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
