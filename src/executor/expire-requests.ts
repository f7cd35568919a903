import { DateTime } from 'luxon';
import { appendAudit } from '../audit/append-audit.js';
import { parseDuration } from '../policy/duration.js';
import type { Runtime } from '../runtime/runtime.js';
import { deleteExpiredRequests } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';

/**
 * The records of requests are personal data with a period of their own (`requests.keep`,
 * default 24 months, as CCPA keeps them): completed requests older than that are deleted
 * with their receipts' lines, and one `request-expired` entry per request is audited. The
 * erasure ledger keeps the digests, so replay after a restore still knows whom to erase.
 * Open and waiting requests are never expired. Returns the ids removed.
 */
export async function expireRequests(runtime: Runtime, actor: string): Promise<string[]> {
  const { state, config } = runtime;
  return withTransaction(state.db, async (tx) => {
    const { rows } = await tx.query<{ now: Date }>('SELECT now() AS now');
    const cutoff = DateTime.fromJSDate(rows[0]!.now, { zone: config.timezone }).minus(parseDuration(config.requests.keep)).toJSDate();
    const removed = await deleteExpiredRequests(tx, state, cutoff);
    for (const id of removed) {
      await appendAudit(tx, state, { event: 'request-expired', requestId: id, ruleId: null, rows: 0, actor, reason: `completed before ${cutoff.toISOString()} (requests.keep ${config.requests.keep})` });
    }
    return removed;
  });
}
