import { databaseNow } from '../state/database-now.js';
import { randomUUID } from 'node:crypto';
import { appendAudit } from '../audit/append-audit.js';
import { keyDigest } from '../audit/key-digest.js';
import type { SunsetAuditEntry, SunsetRuleStatus } from '../audit/sunset-audit-entry.js';
import { holdsForRule } from '../people/holds-in-force.js';
import type { Rule } from '../policy/rule.js';
import { redactText } from '../redact.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, allowIdleWhileOtherStoreChanges } from '../state/holds.js';
import { isObjectOutbox } from '../stores/owned-objects.js';
import type { SqlClient } from '../state/sql-client.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { everything, exceptHeld } from '../stores/selection.js';
import type { BatchGuard, BatchResult, BatchSpec } from '../stores/store.js';
import { receiptDigest } from '../sunset/sunset-digest.js';
import type { SunsetScope } from '../sunset/sunset-scope.js';
import { isTransient } from './classify-error.js';
import { drainCascades, type DrainLimits, type DrainSummary } from './drain-cascades.js';
import { SUBJECTLESS_HELD, subjectlessHold } from './subjectless-hold.js';
import { actingRule, outboxStores, planSunset, type EntryAtSunset, type RuleAtSunset, type SunsetHold, type SunsetPlan } from './sunset-plan.js';

/** One rule's part of a sunset, as the receipt shows it. */
export interface SunsetRuleReceipt {
  id: string;
  store: string;
  target: string;
  action: 'delete' | 'anonymize';
  ruleAction: RuleAtSunset['ruleAction'];
  inventory: string[];
  status: SunsetRuleStatus;
  /** Items deleted or anonymized. */
  changed: number;
  /** Items kept because their subject is on legal hold. */
  held: number;
  /** The hold on the whole rule that kept it (nothing of it changed from then on). */
  heldByRule: { id: string; reason: string } | null;
  cascaded: Record<string, number>;
  objectsQueued: Record<string, number>;
  /** Rows a statement could not change and left (their keys are in the audit entries, as digests). */
  skipped: number;
  batches: number;
  /** Items the rule still selects after its pass (held ones left out); null when not counted (not done). */
  leftAfter: number | null;
  reason?: string;
  /** Its audit entries: how many, the first and last seq (its batches and its `sunset-rule` entry). */
  audit: { entries: number; first: number | null; last: number | null };
}

/** What `retention sunset --execute` prints and the closing audit entry's digest covers (without `digest` and `closing`). */
export interface SunsetReceipt {
  sunsetId: string;
  token: string;
  configHash: string;
  actor: string;
  startedAt: string;
  finishedAt: string;
  /** Every rule applied is `done` (or `held`: a legal hold kept it) and every object the deleted rows owned is gone; not interrupted. */
  complete: boolean;
  interrupted: boolean;
  rules: SunsetRuleReceipt[];
  /** Objects the deleted rows owned (`cascade:`), deleted after their rows, by the SQL store whose outbox held them. */
  objects: Record<string, DrainSummary>;
  /**
   * Entries still in each drained outbox after the drain (objects that failed, were
   * postponed, or are not due yet): the sunset is complete only when every one is 0.
   */
  objectsLeft: Record<string, number>;
  /** The inventory as the confirmed plan had it: what was applied, kept (with the reason) or a gap, and what stays outside the rules' filters. */
  entries: EntryAtSunset[];
  kept: SunsetPlan['kept'];
  holds: SunsetHold[];
  /** Earlier sunsets started and never finished, as the plan found them (also in this sunset's `sunset-started` entry). */
  unfinished: SunsetPlan['unfinished'];
  totals: { changed: number; held: number };
  /** The `sunset-started` entry. */
  started: { seq: number; hash: string };
  /** SHA-256 of this receipt's canonical JSON without `digest` and `closing` (`receiptDigest`). */
  digest: string;
  /** The `sunset-finished` entry holding `digest`: the chain's head when the sunset ended. */
  closing: { seq: number; hash: string };
}

export type SunsetOutcome =
  | { status: 'executed'; receipt: SunsetReceipt }
  /** The token is not the plan's now: nothing was touched. */
  | { status: 'stale'; plan: SunsetPlan }
  /** Another `sunset --execute` holds the lock. */
  | { status: 'busy' };

export interface SunsetRun {
  token: string;
  actor: string;
  /** Ctrl-C: stop between batches (the batch under way commits), and close the receipt as interrupted. */
  signal?: AbortSignal;
  /** Outbox entries per drain step and steps at most; default: steps until nothing is claimed (tests give small ones). */
  drain?: DrainLimits;
}

/** A sunset drains its outboxes until nothing due is left: no later drain will come once the service is gone. */
const SUNSET_DRAIN: DrainLimits = { maxSteps: Number.POSITIVE_INFINITY };

/**
 * `retention sunset --execute`: recounts the plan and, only if its token is the one given,
 * applies every rule of `scope` to all its items in the plan's order (children first),
 * batch by batch like an erasure step: each key range's change under the holds read in
 * the state transaction that records it (a hold placed meanwhile is respected), each
 * batch audited as `sunset-batch`. Then the objects deleted rows owned are drained, and
 * the receipt's digest closes the sunset in the audit chain.
 *
 * Interrupted or crashed midway, what is done stays done; a new plan counts what remains
 * and an execute with its token finishes it. One sunset at a time per state schema (a
 * session advisory lock).
 */
export async function executeSunset(runtime: Runtime, scope: SunsetScope, run: SunsetRun): Promise<SunsetOutcome> {
  const { state } = runtime;
  const client = await state.db.pool.connect();
  client.on('error', () => undefined);
  const lockKey = `retention-sunset:${state.schema}`;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [lockKey]);
    if (!rows[0]!.ok) return { status: 'busy' };
    try {
      const plan = await planSunset(runtime, scope);
      if (plan.token !== run.token) return { status: 'stale', plan };
      return { status: 'executed', receipt: await carryOut(runtime, scope, plan, run) };
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [lockKey]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

async function carryOut(runtime: Runtime, scope: SunsetScope, plan: SunsetPlan, run: SunsetRun): Promise<SunsetReceipt> {
  const { state, config } = runtime;
  const sunsetId = randomUUID();
  const base = { sunsetId, configHash: config.hash, actor: run.actor, trigger: 'sunset' as const };
  const startedAt = (await databaseNow(runtime.state.db.pool)).toISOString();
  const started = await withTransaction(state.db, (tx) =>
    appendAudit(tx, state, { ...base, event: 'sunset-started', ruleId: null, rows: plan.rules.reduce((n, r) => n + r.affected, 0), token: plan.token,
      ...(plan.unfinished.length > 0 ? { unfinished: plan.unfinished } : {}) } satisfies SunsetAuditEntry),
  );

  const lines: SunsetRuleReceipt[] = [];
  const failedStores = new Map<string, string>();
  let interrupted = false;
  for (const planned of plan.rules) {
    const rule = scope.rules.find((r) => r.id === planned.id)!;
    const line = emptyLine(planned);
    lines.push(line);
    if (run.signal?.aborted) interrupted = true;
    if (interrupted) {
      line.reason = 'interrupted before it started';
      continue;
    }
    if (planned.refused !== null) {
      line.status = 'refused';
      line.reason = planned.refused;
    } else if (failedStores.has(rule.store)) {
      // Children first: once a rule of a store failed, the rules its rows reference wait.
      line.reason = `not started: rule ${failedStores.get(rule.store)} before it in store ${rule.store} failed`;
    } else {
      try {
        interrupted = await applyRule(runtime, sunsetId, rule, line, run);
      } catch (error) {
        line.status = 'failed';
        line.reason = redactText(String((error as Error)?.message ?? error));
        failedStores.set(rule.store, rule.id);
      }
    }
    await closeRule(runtime, base, rule, line);
  }

  // The objects deleted rows owned go after their rows, through the outbox (as for a sweep).
  // Every outbox of the sunset's SQL stores, not only those this run queued into: a run
  // that crashed after its rows' batch committed left their objects queued there.
  const objects: Record<string, DrainSummary> = {};
  const objectsLeft: Record<string, number> = {};
  const queuedNow = lines.filter((l) => Object.values(l.objectsQueued).some((n) => n > 0)).map((l) => l.store);
  const drained = [...new Set([...outboxStores(runtime, scope.rules.filter((r) => plan.rules.some((p) => p.id === r.id))), ...queuedNow])];
  for (const storeName of drained) {
    objects[storeName] = await drainCascades(runtime, storeName, run.drain ?? SUNSET_DRAIN);
    const source = runtime.stores().find((s) => s.name === storeName);
    objectsLeft[storeName] = source && isObjectOutbox(source) ? await source.pendingObjects() : 0;
  }

  const totals = { changed: lines.reduce((n, l) => n + l.changed, 0), held: lines.reduce((n, l) => n + l.held, 0) };
  // A rule a legal hold kept is as it should be; anything else short of done is not, nor an object left queued.
  const complete =
    !interrupted &&
    lines.every((l) => l.status === 'done' || l.status === 'held') &&
    Object.values(objects).every((d) => d.failed === 0) &&
    Object.values(objectsLeft).every((n) => n === 0);
  const body: Omit<SunsetReceipt, 'digest' | 'closing'> = {
    sunsetId,
    token: plan.token,
    configHash: config.hash,
    actor: run.actor,
    startedAt,
    finishedAt: (await databaseNow(runtime.state.db.pool)).toISOString(),
    complete,
    interrupted,
    rules: lines,
    objects,
    objectsLeft,
    entries: plan.entries,
    kept: plan.kept,
    holds: plan.holds,
    unfinished: plan.unfinished,
    totals,
    started,
  };
  const digest = receiptDigest(body);
  const closing = await withTransaction(state.db, (tx) =>
    appendAudit(tx, state, { ...base, event: 'sunset-finished', ruleId: null, rows: totals.changed, held: totals.held, complete, receiptDigest: digest } satisfies SunsetAuditEntry),
  );
  return { ...body, digest, closing };
}

/**
 * One rule over all its items, key range by key range. Returns true when interrupted
 * between ranges. A hold on the rule (placed since the plan) stops it from that range on.
 */
async function applyRule(runtime: Runtime, sunsetId: string, rule: Rule, line: SunsetRuleReceipt, run: SunsetRun): Promise<boolean> {
  const { state, config } = runtime;
  const store = runtime.storeFor(rule);
  const acting = actingRule(rule);
  const context = runtime.contextFor(rule);
  const all = everything();
  const together = store.sharesTransactionsWith(config.state);
  let held: readonly string[] = [];
  // What the range under way did, taken into `line` only once its transaction committed
  // (a retried range must not be counted twice).
  let done: { result: BatchResult; skipped: number; seq: number } | null = null;
  let ruleHold: SunsetRuleReceipt['heldByRule'] = null;

  const guard = async (tx: SqlClient): Promise<BatchGuard | null> => {
    const holds = await holdsForRule(tx, state, acting, config.rules);
    if (holds.ruleHold) {
      ruleHold = { id: holds.ruleHold.id, reason: holds.ruleHold.reason };
      return null;
    }
    // Read under the holds lock `holdsForRule` took: a subject hold placed during the execute stops a rule without subject from this range on.
    const subjectless = subjectlessHold(await activeHolds(tx, state), rule);
    if (subjectless) {
      ruleHold = { id: subjectless.id, reason: `${subjectless.reason}; ${SUBJECTLESS_HELD}` };
      return null;
    }
    held = holds.held;
    return { held: holds.held };
  };
  const record = async (tx: SqlClient, result: BatchResult, idx: number) => {
    // Digested before anything is written: a raw key must never reach the audit log.
    const skippedRows = (result.skipped ?? []).map(({ key, reason }) => ({ key: keyDigest(runtime.auditKey!, key), reason }));
    const entry: SunsetAuditEntry = {
      event: 'sunset-batch',
      sunsetId,
      ruleId: rule.id,
      ruleSource: rule.source,
      ruleHash: rule.hash,
      configHash: config.hash,
      store: rule.store,
      table: line.target,
      action: line.action,
      ...(rule.action !== line.action ? { ruleAction: rule.action } : {}),
      rows: result.rows,
      ...(result.held ? { held: result.held } : {}),
      ...(result.cascaded && Object.keys(result.cascaded).length > 0 ? { cascaded: result.cascaded } : {}),
      ...(result.objects && Object.keys(result.objects).length > 0 ? { objectsQueued: result.objects } : {}),
      ...(skippedRows.length > 0 ? { skippedRows } : {}),
      batch: idx,
      actor: run.actor,
      trigger: 'sunset',
    };
    done = { result, skipped: skippedRows.length, seq: (await appendAudit(tx, state, entry)).seq };
  };
  const commit = () => {
    if (ruleHold) line.heldByRule = ruleHold;
    if (!done) return;
    line.changed += done.result.rows;
    line.held += done.result.held ?? 0;
    line.skipped += done.skipped;
    line.batches++;
    add(line.cascaded, done.result.cascaded);
    add(line.objectsQueued, done.result.objects);
    noteEntry(line, done.seq);
  };

  const ranges = await store.partition(acting, all, context);
  for (const [idx, keyRange] of ranges.entries()) {
    if (run.signal?.aborted) {
      line.status = line.batches === 0 ? 'not-started' : 'incomplete';
      line.reason = `interrupted after ${line.batches} of ${ranges.length} key ranges`;
      return true;
    }
    // Objects the deleted rows own (`cascade:`) are queued under the sunset's id.
    const spec: BatchSpec = { rule: acting, selection: all, keyRange, dryRun: false, context, origin: { sweepId: sunsetId, idx } };
    await retryingTransient(async () => {
      done = null;
      ruleHold = null;
      if (together) {
        await store.apply(spec, { before: guard, after: (tx, result) => record(tx, result, idx) });
      } else {
        await withTransaction(state.db, async (tx) => {
          const holds = await guard(tx);
          if (!holds) return;
          await allowIdleWhileOtherStoreChanges(tx);
          await record(tx, await store.apply({ ...spec, selection: exceptHeld(all, holds.held) }), idx);
        });
      }
    });
    commit();
    if (line.heldByRule) {
      line.status = 'held';
      return false;
    }
  }
  // Asked again: only nothing left that it selects (held items aside) is done.
  line.leftAfter = await store.count(acting, exceptHeld(all, held), context);
  line.status = line.leftAfter === 0 ? 'done' : 'incomplete';
  if (line.leftAfter > 0) {
    line.reason = `${line.leftAfter} item(s) still selected after the pass${line.skipped > 0 ? ` (${line.skipped} row(s) could not be changed: see the audit entries)` : ' (written since the plan?)'}; plan again and execute to finish`;
  }
  return false;
}

/** The rule's closing `sunset-rule` entry, with its totals. */
async function closeRule(runtime: Runtime, base: { sunsetId: string; configHash: string; actor: string; trigger: 'sunset' }, rule: Rule, line: SunsetRuleReceipt): Promise<void> {
  const audit = await withTransaction(runtime.state.db, (tx) =>
    appendAudit(tx, runtime.state, {
      ...base,
      event: 'sunset-rule',
      ruleId: rule.id,
      ruleSource: rule.source,
      ruleHash: rule.hash,
      store: rule.store,
      table: line.target,
      action: line.action,
      ...(rule.action !== line.action ? { ruleAction: rule.action } : {}),
      rows: line.changed,
      ...(line.held > 0 ? { held: line.held } : {}),
      status: line.status,
      ...(line.heldByRule ? { holdId: line.heldByRule.id } : {}),
      ...(line.reason ? { reason: line.reason } : {}),
    } satisfies SunsetAuditEntry),
  );
  noteEntry(line, audit.seq);
}

/** Attempts of one key range; a lock or statement timeout, a lost connection is tried again. */
const RANGE_ATTEMPTS = 3;
const RETRY_DELAY_MS = 1_000;

/**
 * Runs one key range's work, again after a transient failure (the work re-applies the
 * rule's whole predicate, so a range already changed changes nothing more; a store that
 * changes before it records may then record 0 for it: undercounted, never invented).
 */
async function retryingTransient(work: () => Promise<void>): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= RANGE_ATTEMPTS || !isTransient(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
  }
}

function emptyLine(planned: RuleAtSunset): SunsetRuleReceipt {
  return {
    id: planned.id,
    store: planned.store,
    target: planned.target,
    action: planned.action,
    ruleAction: planned.ruleAction,
    inventory: planned.inventory,
    status: 'not-started',
    changed: 0,
    held: 0,
    heldByRule: null,
    cascaded: {},
    objectsQueued: {},
    skipped: 0,
    batches: 0,
    leftAfter: null,
    audit: { entries: 0, first: null, last: null },
  };
}

function noteEntry(line: SunsetRuleReceipt, seq: number): void {
  line.audit.entries++;
  line.audit.first ??= seq;
  line.audit.last = seq;
}

function add(into: Record<string, number>, more: Record<string, number> | undefined): void {
  for (const [name, n] of Object.entries(more ?? {})) into[name] = (into[name] ?? 0) + n;
}
