/** Thrown into a producer whose consumer stopped reading, so it unwinds and closes its connection. */
class Stopped extends Error {}

/**
 * The pages a callback-style producer hands to `emit`, as an async iterable: for a walk
 * that only runs inside a callback which opens and closes its connection around it
 * (`withKeySpace`). One page at a time: `emit` resolves when the consumer asks for the
 * next, so nothing piles up in memory. A consumer that stops early (a `break`) makes the
 * pending `emit` reject, so the producer unwinds and closes; a producer's failure is
 * thrown to the consumer.
 */
export async function* pagesFrom<T>(produce: (emit: (page: T) => Promise<void>) => Promise<void>): AsyncGenerator<T> {
  let waiting: { page: T; resume: (go: boolean) => void } | null = null;
  let ended = false;
  let failure: { error: unknown } | null = null;
  let wake = (): void => undefined;
  const run = produce(
    (page) =>
      new Promise<void>((resolve, reject) => {
        waiting = { page, resume: (go) => (go ? resolve() : reject(new Stopped('the consumer stopped reading'))) };
        wake();
      }),
  ).then(
    () => void (ended = true),
    (error: unknown) => {
      if (!(error instanceof Stopped)) failure = { error };
      ended = true;
    },
  );
  void run.finally(() => wake());
  try {
    for (;;) {
      while (waiting === null && !ended) await new Promise<void>((resolve) => (wake = resolve));
      const current = waiting as { page: T; resume: (go: boolean) => void } | null;
      if (current === null) break;
      yield current.page;
      waiting = null;
      current.resume(true);
    }
    if (failure !== null) throw (failure as { error: unknown }).error;
  } finally {
    (waiting as { resume: (go: boolean) => void } | null)?.resume(false);
    await run;
  }
}
