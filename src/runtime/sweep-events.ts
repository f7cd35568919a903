import type { Action } from '../policy/rule.js';
import type { SweepRecord } from '../state/sweeps.js';

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
 * The runtime's event channel. Listeners run synchronously, in order; one that throws is
 * ignored: a log or a counter must never fail a batch whose change has committed.
 */
export class SweepEvents {
  readonly #listeners = new Set<SweepListener>();

  /** Adds a listener; returns the function that removes it. */
  on(listener: SweepListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: SweepEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // An observer's failure is its own; what was recorded stays recorded.
      }
    }
  }
}
