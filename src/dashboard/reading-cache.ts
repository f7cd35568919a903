/** What the cache holds: the last good value (if any), when it was read, and the last failure. */
export interface Reading<T> {
  /** The last value read; null when no reading has succeeded yet. */
  value: T | null;
  /** When `value` was read (epoch ms); null with `value`. */
  readAt: number | null;
  /** Why the latest reading failed; null when it succeeded. */
  error: string | null;
}

/**
 * One reading shared by every page load within `ttlMs`, so a reload storm (a wall screen,
 * twenty tabs, someone holding F5) costs the databases one reading per `ttlMs`, not one
 * per request. Never two readings at once: a request arriving while one runs waits for it.
 * A failed reading is remembered for `ttlMs` too (a storm against a database that is down
 * tries it once per `ttlMs`), and keeps the last good value beside the error, so the page
 * can show what it knew and say that it is stale, never present it as current.
 */
export class ReadingCache<T> {
  readonly #read: () => Promise<T>;
  readonly #ttlMs: number;
  readonly #clock: () => number;
  readonly #failureTtlMs: number;
  #reading: Reading<T> = { value: null, readAt: null, error: null };
  #triedAt: number | null = null;
  #inFlight: Promise<Reading<T>> | null = null;

  /**
   * `failureTtlMs` (default `ttlMs`): how long a failed reading is remembered; shorter for a
   * long-lived cache, so one failure does not stand for its whole period once the cause is gone.
   */
  constructor(read: () => Promise<T>, ttlMs: number, clock: () => number = Date.now, failureTtlMs: number = ttlMs) {
    this.#read = read;
    this.#ttlMs = ttlMs;
    this.#clock = clock;
    this.#failureTtlMs = Math.min(failureTtlMs, ttlMs);
  }

  async get(): Promise<Reading<T>> {
    const ttl = this.#reading.error === null ? this.#ttlMs : this.#failureTtlMs;
    if (this.#triedAt !== null && this.#clock() - this.#triedAt < ttl) return this.#reading;
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = null;
    });
    return this.#inFlight;
  }

  async #refresh(): Promise<Reading<T>> {
    try {
      const value = await this.#read();
      this.#reading = { value, readAt: this.#clock(), error: null };
    } catch (error) {
      this.#reading = { ...this.#reading, error: error instanceof Error ? error.message : String(error) };
    }
    this.#triedAt = this.#clock();
    return this.#reading;
  }
}
