/** Thrown by a probe to end the wait at once (waiting longer cannot help). */
export class GiveUp extends Error {}

export interface WaitOptions {
  /** What is awaited, for the timeout message. */
  what: string;
  timeoutMs: number;
  /** Default 200 ms. */
  intervalMs?: number;
}

/**
 * Polls `probe` until it returns something other than undefined/false. A probe that throws
 * (a database restarting) counts as "not yet", except a GiveUp, which ends the wait; the
 * last error is named on timeout. The
 * machine is shared with other tests, so callers give generous timeouts and never sleep a
 * fixed time instead.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: WaitOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof GiveUp) throw error;
      lastError = error;
    }
    if (Date.now() > deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : '';
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.what}${why}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
