import { appendAudit } from '../audit/append-audit.js';
import { UserError } from '../errors.js';
import { extendedDeadline } from '../people/deadlines.js';
import type { Runtime } from '../runtime/runtime.js';
import { extendRequest, readRequest, type RequestRecord } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';

/**
 * Extends a request's deadline by the config's `requests.extension`, once: the law allows
 * one extension (GDPR Art. 12(3): by two further months; Udesk: 45 days more), so a second
 * is refused, as is extending a completed request. Audited with the reason and the new
 * deadline, in the transaction that sets it.
 */
export async function extendRequestDeadline(runtime: Runtime, id: string, reason: string, actor: string): Promise<RequestRecord> {
  const { state, config } = runtime;
  const extension = config.requests.extension;
  if (!extension) throw new UserError(`${config.file} allows no extension of a request (add requests.extension, e.g. P45D)`);
  if (reason.trim() === '') throw new UserError('--reason: say why the request needs more time (it is recorded and audited)');
  return withTransaction(state.db, async (tx) => {
    const request = await readRequest(tx, state, id, true);
    if (!request) throw new UserError(`no request ${JSON.stringify(id)} (list them with: retention requests)`);
    if (request.status === 'completed') throw new UserError(`request ${id} is already complete; there is nothing to extend`);
    if (request.extendedAt) {
      throw new UserError(`request ${id} was already extended on ${request.extendedAt.toISOString()} (to ${request.dueAt.toISOString()}); a request can be extended once`);
    }
    const due = extendedDeadline(request.dueAt, extension, config.timezone);
    const extended = await extendRequest(tx, state, id, due, actor, reason);
    if (!extended) throw new Error(`request ${id} changed while it was being extended`);
    await appendAudit(tx, state, {
      event: 'request-extended',
      subject: request.subjectDigest,
      requestId: id,
      ruleId: null,
      rows: 0,
      actor,
      reason,
      dueAt: due.toISOString(),
    });
    return extended;
  });
}
