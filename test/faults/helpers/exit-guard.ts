/**
 * Last-resort cleanup for what this test process started outside itself (worker
 * processes, throwaway servers): if vitest tears the process down mid-scenario (a test
 * timeout), `finally` blocks may never run, so each resource registers a synchronous stop
 * here, run on exit. A resource removes its entry once it is cleaned up normally.
 */
const stops = new Set<() => void>();
let installed = false;

export function stopOnExit(stop: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', () => {
      for (const s of stops) {
        try {
          s();
        } catch {
          // best effort: keep stopping the others
        }
      }
    });
  }
  stops.add(stop);
  return () => stops.delete(stop);
}
