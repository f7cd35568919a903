/**
 * Ctrl-C or SIGTERM during a command that works the queue: `signal` aborts so it stops
 * waiting (the batches in flight still finish and commit); `dispose` removes the handlers.
 */
export function onInterrupt(): { signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const abort = () => stop.abort();
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  return {
    signal: stop.signal,
    dispose() {
      process.off('SIGINT', abort);
      process.off('SIGTERM', abort);
    },
  };
}
