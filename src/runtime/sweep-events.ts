import type { Action } from '../policy/rule.js';
import type { SweepRecord } from '../state/sweeps.js';
import { redactText } from '../redact.js';

/**
 * What the executor reports as it records sweeps, after the state database committed it:
 * for logs and metrics (src/metrics/), never for decisions. Each event is reported once,
 * by the process whose transaction recorded it (an end is recorded by exactly one caller:
 * `markSweepEnded`, `completeBatch`), so a listener counts and logs it exactly once.
 */
export type SweepEvent =
  /**
   * A sweep ended: `done` (its last batch, or planned with nothing to do), `blocked` by its
   * limits, or ended early (`superseded`, `failed`, `cancelled`). `sweep` is the record as
   * the end left it (status, reason, rows, `blocked`).
   */
  | { type: 'sweep-ended'; sweep: SweepRecord }
  /** A batch ran and its change was recorded (a batch already done, or of an ended sweep, is none). */
  | { type: 'batch-applied'; sweepId: string; ruleId: string; store: string; action: Action; idx: number; rows: number; dryRun: boolean; ms: number };

export type SweepListener = (event: SweepEvent) => void;

/**
 * The runtime's event channel. Listeners run synchronously, in order; one that throws (or
 * returns a promise that rejects) is not let through: a log or a counter must never fail a
 * batch whose change has committed. Its first failure is reported on stderr (`report`),
 * once per listener, so a broken metric or log is seen without flooding at every batch.
 */
export class SweepEvents {
  readonly #listeners = new Set<SweepListener>();
  readonly #reported = new WeakSet<SweepListener>();
  readonly #report: (message: string) => void;

  constructor(report: (message: string) => void = (message) => void process.stderr.write(`${message}\n`)) {
    this.#report = report;
  }

  /** Adds a listener; returns the function that removes it. */
  on(listener: SweepListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SweepEvent): void {
    for (const listener of this.#listeners) {
      try {
        const result: unknown = listener(event);
        if (result && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, (error: unknown) => this.#failed(listener, event, error));
        }
      } catch (error) {
        // An observer's failure is its own; what was recorded stays recorded.
        this.#failed(listener, event, error);
      }
    }
  }

  #failed(listener: SweepListener, event: SweepEvent, error: unknown): void {
    if (this.#reported.has(listener)) return;
    this.#reported.add(listener);
    try {
      const why = redactText((error as Error)?.message ?? String(error));
      this.#report(`retention: a sweep event listener failed on ${event.type} (reported once; later failures of it are not): ${why}`);
    } catch {
      // Reporting must not fail the batch either.
    }
  }
}
