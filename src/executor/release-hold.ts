import { appendAudit } from '../audit/append-audit.js';
import { requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { subjectDigest } from '../people/subject-digest.js';
import type { Runtime } from '../runtime/runtime.js';
import { listHolds, releaseHolds, type HoldRecord } from '../state/holds.js';
import { withTransaction } from '../stores/postgres/connect.js';

/** The largest id a `bigserial` gives. */
const MAX_HOLD_ID = 2n ** 63n - 1n;

/** One hold by the id `hold list` shows, or every unreleased hold on a subject. */
export type HoldToRelease = { id: string } | { subject: string };

/**
 * Releases holds and audits each (`hold-released`), in one transaction. No lock is needed:
 * a batch that read the hold before this commits keeps what it would have kept, and the
 * next one changes it. Releasing nothing is a mistake the caller hears about.
 */
export async function releaseHold(runtime: Runtime, which: HoldToRelease, reason: string | null, actor: string): Promise<HoldRecord[]> {
  const { state } = runtime;
  const key = requireAuditKey(runtime.auditKey);
  const target = 'id' in which ? { id: holdId(which.id) } : { subjectDigest: digestOf(key, which.subject) };
  const why = reason?.trim() || null;
  return withTransaction(state.db, async (client) => {
    const released = await releaseHolds(client, state, target, actor, why);
    if (released.length === 0) throw await nothingReleased(runtime, target);
    for (const hold of released) {
      await appendAudit(client, state, {
        event: 'hold-released',
        holdId: hold.id,
        ...(hold.subjectDigest === null ? {} : { subject: hold.subjectDigest }),
        ruleId: hold.ruleId,
        rows: 0,
        actor,
        ...(why === null ? {} : { reason: why }),
      });
    }
    return released;
  });
}

function holdId(text: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(text) || BigInt(text) > MAX_HOLD_ID) {
    throw new UserError(`${JSON.stringify(text)} is not a hold id (the number \`retention hold list\` shows)`);
  }
  return text;
}

function digestOf(key: Buffer, subject: string): string {
  if (subject === '') throw new UserError('--subject: an empty identifier names nobody');
  return subjectDigest(key, subject);
}

/** Why nothing was released: an unknown id, one released already, or no hold on the subject. */
async function nothingReleased(runtime: Runtime, target: { id: string } | { subjectDigest: string }): Promise<UserError> {
  if (!('id' in target)) return new UserError('no unreleased hold on that subject (list them with: retention hold list --all)');
  const hold = (await listHolds(runtime.state.db.pool, runtime.state, { all: true })).find((h) => h.id === target.id);
  if (!hold) return new UserError(`no hold ${target.id} (list them with: retention hold list --all)`);
  return new UserError(`hold ${hold.id} was released at ${hold.releasedAt!.toISOString()} by ${hold.releasedBy}: nothing to release`);
}
