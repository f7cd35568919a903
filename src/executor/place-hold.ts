import { appendAudit } from '../audit/append-audit.js';
import { requireAuditKey } from '../audit/audit-key.js';
import { UserError } from '../errors.js';
import { holdReach } from '../people/holds-in-force.js';
import { sealSubject } from '../people/seal-subject.js';
import { subjectDigest } from '../people/subject-digest.js';
import type { Config } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { allowIdleWhileOtherStoreChanges, insertHold, lockHoldsExclusive, type HoldRecord } from '../state/holds.js';
import { withTransaction } from '../stores/postgres/connect.js';

/** How long `addHold` waits by default for the batches under way to commit. */
export const HOLD_LOCK_TIMEOUT_MS = 30_000;

/** PostgreSQL's lock_not_available: `lock_timeout` passed while waiting. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface HoldRequest {
  /** The person's identifier, raw: only its digest and its sealed form are stored. */
  subject?: string;
  /** With `subject`: that subject in this rule (and rules whose deletes reach it, see `holdsForRule`). Without: the whole rule. */
  ruleId?: string;
  reason: string;
  /** When the hold lapses by itself; absent: until released. Must be in the future. */
  until?: Date;
  actor: string;
  /** How long to wait for batches under way before giving up; default `HOLD_LOCK_TIMEOUT_MS`. */
  lockTimeoutMs?: number;
}

/** A hold as placed: its record and, when it reaches an `action: expire` rule, the TTLs lifted from what it keeps. */
export interface PlacedHold extends HoldRecord {
  ttlsLifted?: number;
}

/**
 * What is wrong with a hold request before anything is touched (a UserError), else its rule
 * (null: a subject in every rule) and trimmed reason. Whether `until` is in the future is
 * judged by the state database's clock, when the hold is placed.
 */
export function checkHoldRequest(config: Config, request: HoldRequest): { rule: Rule | null; reason: string } {
  const reason = request.reason.trim();
  if (reason === '') throw new UserError('say why with --reason TEXT: it is recorded with the hold and in the audit log');
  if (request.subject === undefined && request.ruleId === undefined) {
    throw new UserError('say what to hold: --subject ID (in every rule that declares a subject), --rule ID (the whole rule), or both (that subject in that rule)');
  }
  if (request.subject === '') throw new UserError('--subject: an empty identifier names nobody');
  const rule = request.ruleId === undefined ? null : ruleOf(config, request.ruleId);
  if (rule && request.subject !== undefined && rule.subject === null) {
    throw new UserError(
      `rule ${rule.id} declares no subject, so it cannot tell whose its items are and a hold on one subject cannot reach it; ` +
        `hold the whole rule (--rule ${rule.id} without --subject), or declare the rule's subject in ${config.file}`,
    );
  }
  return { rule, reason };
}

/**
 * Places a legal hold and audits it (`hold-added`) in one transaction, under the holds lock
 * taken exclusively: it waits for every batch under way (each holds that lock shared until
 * it commits its change), and no batch starts until the hold commits. So when this returns,
 * nothing that ignores the hold is running or can start. When the batches do not finish
 * within the lock timeout, nothing is placed and the caller is told so.
 *
 * A TTL that a sweep of an `action: expire` rule set before the hold would still delete the
 * held keys: it is lifted in the same transaction, under the lock (`liftExpiry`), and when
 * that fails the hold is not placed.
 */
export async function addHold(runtime: Runtime, request: HoldRequest): Promise<PlacedHold> {
  const { state, config } = runtime;
  const key = requireAuditKey(runtime.auditKey);
  const { rule, reason } = checkHoldRequest(config, request);
  const timeoutMs = request.lockTimeoutMs ?? HOLD_LOCK_TIMEOUT_MS;
  return withTransaction(state.db, async (client) => {
    if (request.until) {
      const { rows } = await client.query<{ future: boolean; now: Date }>('SELECT $1::timestamptz > now() AS future, now() AS now', [request.until]);
      if (!rows[0]!.future) {
        throw new UserError(`--until ${request.until.toISOString()} is not in the future (the state database's clock says ${rows[0]!.now.toISOString()})`);
      }
    }
    // The pool's short lock timeout suits batches (they are retried); a person placing a
    // hold waits for the batches under way instead, up to `timeoutMs`.
    await client.query("SELECT set_config('lock_timeout', $1, true)", [`${timeoutMs}ms`]);
    // TTLs are lifted from Redis inside this transaction (liftExpiry).
    await allowIdleWhileOtherStoreChanges(client);
    try {
      await lockHoldsExclusive(client, state);
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
      throw new UserError(
        `batches are still running after ${timeoutMs / 1000} s (a hold waits until the changes under way commit): the hold was NOT placed; try again, or wait longer with --lock-timeout SECONDS`,
        { cause: error },
      );
    }
    const { subject } = request;
    const hold = await insertHold(client, state, {
      subjectDigest: subject === undefined ? null : subjectDigest(key, subject),
      subjectSealed: subject === undefined ? null : sealSubject(key, subject),
      ruleId: rule?.id ?? null,
      reason,
      until: request.until ?? null,
      createdBy: request.actor,
    });
    const ttlsLifted = await liftExpiry(runtime, hold, subject ?? null);
    await appendAudit(client, state, {
      event: 'hold-added',
      holdId: hold.id,
      ...(hold.subjectDigest === null ? {} : { subject: hold.subjectDigest }),
      ruleId: hold.ruleId,
      ...(rule ? { ruleSource: rule.source, ruleHash: rule.hash } : {}),
      configHash: config.hash,
      rows: 0,
      actor: request.actor,
      reason,
      until: hold.until?.toISOString() ?? null,
      ...(ttlsLifted === undefined ? {} : { ttlsLifted }),
    });
    return { ...hold, ...(ttlsLifted === undefined ? {} : { ttlsLifted }) };
  });
}

/**
 * Lifts the TTLs that sweeps of `action: expire` rules set on what `hold` keeps (`subject`:
 * its raw id, null for a hold on a whole rule): the store would otherwise delete held items
 * at their instant, hold or not. Runs under the holds lock taken exclusively, before the hold
 * commits, so no batch sets a TTL meanwhile (batches hold the lock shared while they change
 * data), and every batch after the commit reads the hold. Returns the TTLs lifted; undefined
 * when the hold reaches no such rule.
 *
 * A store that cannot lift them (down, unreachable) fails the hold, naming the store: a hold
 * that cannot be made effective must not look effective, so nothing is placed and the
 * operator retries. TTLs lifted before the failure stay lifted: that keeps data, and the
 * next sweep sets them again.
 */
async function liftExpiry(runtime: Runtime, hold: HoldRecord, subject: string | null): Promise<number | undefined> {
  const { rules } = runtime.config;
  const reached = rules.filter((r) => r.action === 'expire' && holdReach(hold, r, rules) !== null);
  if (reached.length === 0) return undefined;
  let lifted = 0;
  for (const rule of reached) {
    const store = runtime.storeFor(rule);
    try {
      if (!store.cancelExpiry) throw new Error(`a ${store.kind} store cannot lift the TTLs it sets`);
      lifted += await store.cancelExpiry(rule, subject);
    } catch (error) {
      throw new UserError(
        `store ${store.name} (rule ${rule.id}, action: expire): could not lift the TTLs earlier sweeps set on the items this hold keeps, ` +
          `which would still delete them: the hold was NOT placed; try again when store ${store.name} answers (${(error as Error).message})`,
        { cause: error },
      );
    }
  }
  return lifted;
}

function ruleOf(config: Config, ruleId: string): Rule {
  const rule = config.rules.find((r) => r.id === ruleId);
  if (!rule) throw new UserError(`--rule: no rule ${JSON.stringify(ruleId)} in ${config.file} (rules: ${config.rules.map((r) => r.id).join(', ') || 'none'})`);
  return rule;
}
