import type { Config } from '../policy/config.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { migrate } from '../state/state-db.js';
import { ping } from '../stores/postgres/connect.js';

/**
 * Runs `work` against the state database only: stores are not pinged, so a store being
 * down does not stop an admin. For commands that
 * read or change records (sweeps, requests, receipts, holds), not data.
 */
export async function withStateOnly(config: Config, work: (runtime: Runtime) => Promise<void>): Promise<void> {
  const runtime = await openRuntime(config);
  try {
    await ping(runtime.state.db);
    await migrate(runtime.state);
    await work(runtime);
  } finally {
    await runtime.close();
  }
}
