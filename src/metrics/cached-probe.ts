/**
 * A reading taken on scrape, guarded so that a scrape never hangs and never hammers what
 * it reads: a value younger than `ttlMs` is served from the cache; otherwise one reading
 * runs (never two at once: a scrape arriving meanwhile waits for the same one), and a
 * scrape waits for it at most `timeoutMs`. A reading that takes longer goes on in the
 * background and fills the cache when it ends; that scrape gets `undefined` (no sample).
 * A reading that fails gives `undefined` too, for `ttlMs` as well: a server that refuses
 * connections is asked again after the same pause as one that answers.
 */
export class CachedProbe<T> {
  readonly #read: () => Promise<T>;
  readonly #ttlMs: number;
  readonly #timeoutMs: number;
  #value: { at: number; value: T | undefined } | null = null;
  #inFlight: Promise<T | undefined> | null = null;

  constructor(read: () => Promise<T>, options: { ttlMs: number; timeoutMs: number }) {
    this.#read = read;
    this.#ttlMs = options.ttlMs;
    this.#timeoutMs = options.timeoutMs;
  }

  async get(now = Date.now()): Promise<T | undefined> {
    if (this.#value && now - this.#value.at < this.#ttlMs) return this.#value.value;
    this.#inFlight ??= this.#read().then(
      (value) => {
        this.#value = { at: Date.now(), value };
        return value;
      },
      () => {
        // A failed reading is no reading: the stale value would pass for a current one.
        this.#value = { at: Date.now(), value: undefined };
        return undefined;
      },
    ).finally(() => {
      this.#inFlight = null;
    });
    return withTimeout(this.#inFlight, this.#timeoutMs);
  }
}

/** `promise`'s value, or undefined when it takes longer than `ms` (it is not cancelled). */
export async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
