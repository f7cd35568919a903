import { createHash } from 'node:crypto';
import { appendAudit } from '../audit/append-audit.js';
import { sweepAuditEntry } from '../audit/sweep-audit-entry.js';
import { confirmToken, judgeLimits, tokenAllows } from '../planner/blast-radius.js';
import { limitedCount } from '../planner/limited-count.js';
import { planSweep, rangesToJson, type SweepPlan } from '../planner/plan-sweep.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { findRunningSweep, findSweep, insertSweep, pendingBatches, type BlockedSweep, type NewSweep, type SweepRecord } from '../state/sweeps.js';
import { findTrigger } from '../state/triggers.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { expired } from '../stores/selection.js';
import { endSweep, outdatedBy } from './end-sweep.js';
import { sweepLag } from './next-expiry.js';
import { sweepOnHold } from './sweep-on-hold.js';
import { readSweepTrigger, type SweepStarted } from './sweep-trigger.js';

/** A sweep's id follows from its job's id, so a retried sweep job finds the sweep it began. */
export function sweepIdFor(jobId: string): string {
  return createHash('sha256').update(jobId).digest('hex').slice(0, 24);
}

const MAX_RACES = 5;

/**
 * What a sweep runs with, resolved from this process's own config and state database,
 * never from the job: the rule by id (its hash checked), and for a manual sweep the
 * actor, dry-run flag and confirmation of its trigger row.
 */
interface SweepRequest {
  rule: Rule;
  configHash: string;
  actor: string;
  trigger: 'schedule' | 'manual';
  triggerId: string | null;
  dryRun: boolean;
  confirm?: string;
}

/** A job this process will not run; audited as `refused`, never retried (not a network error). */
export class RefusedJobError extends Error {}

/**
 * What starting a sweep did, and the batches the caller (the queue's sweep job) must
 * enqueue: the executor plans and records, the queue layer only transports.
 */
export interface SweepStartOutcome {
  result: SweepStarted;
  /** Batches of `sweepId` not yet done, to (re-)enqueue; empty when none run. */
  enqueue: { sweepId: string; batches: number[] } | null;
}

/**
 * Plans a sweep and returns its batches to queue: the state database's `now`, the expired ranges,
 * the blast-radius check, and key ranges of `batchSize` rows, recorded in one transaction
 * before any batch is queued. Safe to repeat: a retried job resumes its own sweep.
 *
 * One sweep per rule at a time is enforced by the database, not by BullMQ deduplication:
 * a unique index over running sweeps decides every race (workers, admins, schedulers,
 * across machines), and it outlives a Redis restart that would forget a dedup key. A
 * trigger that finds the rule sweeping under the same definition joins that sweep,
 * re-queuing its unfinished batches (which also recovers batches lost with Redis); a
 * running sweep under another definition is superseded, and a fresh one planned.
 *
 * A rule on legal hold starts nothing: the outcome says which hold (`result.held`). A
 * sweep already running (joined, resumed) is left to its batches, which read the hold and
 * cancel it.
 */
export async function startSweep(runtime: Runtime, jobId: string, payload: unknown): Promise<SweepStartOutcome> {
  const { state } = runtime;
  const sweepId = sweepIdFor(jobId);
  const data = await resolveRequest(runtime, jobId, payload);
  const superseded: { sweepId: string; reason: string }[] = [];
  const result = (fields: Omit<SweepStarted, 'ruleId' | 'superseded'>): SweepStartOutcome => ({
    result: {
      ...fields,
      ruleId: data.rule.id,
      ...(superseded.length > 0 ? { superseded } : {}),
    },
    enqueue: null,
  });
  for (let attempt = 0; attempt < MAX_RACES; attempt++) {
    const own = await findSweep(state, sweepId);
    if (own?.blocked) return result({ sweepId, joined: false, batches: 0, blocked: own.blocked });
    if (own) {
      const end = own.status === 'running' ? await supersede(runtime, own) : null;
      if (end) superseded.push(end);
      return own.status === 'running' && !end ? resume(runtime, own.id, own.batchesTotal, false, result) : result({ sweepId, joined: false, batches: own.batchesTotal });
    }

    const running = await findRunningSweep(state, data.rule.id, data.dryRun);
    if (running) {
      // Never join a sweep planned under another definition: it would go on changing
      // rows by a rule that is no longer the config's, and report its count as ours.
      if (running.ruleHash === data.rule.hash) return resume(runtime, running.id, running.batchesTotal, true, result);
      const end = await supersede(runtime, running);
      if (end) superseded.push(end);
      continue;
    }

    // A rule on legal hold starts no sweep (audited as `held`): asked before planning, which
    // can scan a big table at every scheduled run of a rule held for years, and again where
    // the sweep is recorded, for a hold added meanwhile.
    const heldBefore = await withTransaction(state.db, (client) => sweepOnHold(runtime, client, data.rule, data.actor));
    if (heldBefore) return result({ sweepId, joined: false, batches: 0, held: heldBefore });

    const now = (await state.db.pool.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    const plan = planSweep(data.rule, now);
    const blocked = await checkLimits(runtime, data, plan);
    const store = runtime.storeFor(data.rule);
    const batches = blocked ? [] : await store.partition(data.rule, expired(plan.ranges), runtime.contextFor(data.rule));
    // Nothing to do (the store found no expired item through an index): the sweep is
    // recorded done at once, with its one closing entry, instead of one entry per empty batch.
    const empty = !blocked && batches.length === 0;
    // How late this sweep is for the oldest expired item still present (none: 0), for its
    // closing audit entry; one index probe (src/executor/next-expiry.ts). A measurement: a
    // probe that fails leaves it out, and the batches meet (and report) the same trouble.
    const lag = empty ? { lagMs: 0 } : await sweepLag(runtime, data.rule, now, plan.ranges).catch(() => null);
    const sweep: NewSweep = {
      id: sweepId,
      rule: data.rule,
      target: store.describe(data.rule),
      configHash: data.configHash,
      dryRun: data.dryRun,
      actor: data.actor,
      trigger: data.trigger,
      triggerId: data.triggerId,
      now,
      ranges: rangesToJson(plan.ranges),
      batches,
      status: blocked ? 'blocked' : empty ? 'done' : 'running',
      confirmToken: blocked ? null : (data.confirm ?? null),
      blocked,
      lagMs: lag?.lagMs ?? null,
    };
    // The sweep as recorded when it ends at once (blocked, or nothing to do), for its closing entry.
    const summary = { source: data.rule.source, store: data.rule.store, target: sweep.target, action: data.rule.action };
    const record: SweepRecord = { ...sweep, ruleId: data.rule.id, summary, status: blocked ? 'blocked' : 'done', batchesTotal: 0, batchesDone: 0, rowsAffected: 0, rowsHeld: 0, ruleHash: data.rule.hash, reason: null, createdAt: now, finishedAt: now };
    const inserted = await withTransaction(state.db, async (client) => {
      const held = await sweepOnHold(runtime, client, data.rule, data.actor);
      if (held) return held;
      if (!(await insertSweep(client, state, sweep))) return false;
      if (blocked || empty) {
        await appendAudit(client, state, blocked ? sweepAuditEntry(record, 'blocked', blocked.affected) : sweepAuditEntry(record, 'sweep-finished', 0, undefined, { total: 0, empty: 0 }));
      }
      return true;
    });
    if (typeof inserted === 'object') return result({ sweepId, joined: false, batches: 0, held: inserted });
    // Recorded as ended at once (blocked, or nothing to do): reported after the commit, once.
    if (inserted && (blocked || empty)) runtime.events.emit({ type: 'sweep-ended', sweep: record });
    // A never-store rule's sweep blocked by its limits is an incident too: its entry says so,
    // and the worker logs it with the end reported above.
    if (inserted && blocked) return result({ sweepId, joined: false, batches: 0, blocked });
    if (inserted && empty) return result({ sweepId, joined: false, batches: 0 });
    if (inserted) return resume(runtime, sweepId, batches.length, false, result);
    // Lost a race with another trigger of the same rule: go round and join it.
  }
  throw new Error(`could not start or join a sweep of rule ${data.rule.id} after ${MAX_RACES} attempts`);
}

/**
 * The rule and flags a sweep job may run with, or a refusal (audited, then thrown as an
 * UnrecoverableError): the job names a trigger not recorded (or recorded for another
 * job), a rule this config does not have, or a definition hash that is not the config's.
 */
async function resolveRequest(runtime: Runtime, jobId: string, payload: unknown): Promise<SweepRequest> {
  const { config, state } = runtime;
  const data = readSweepTrigger(payload);
  if ('problem' in data) return refuse(runtime, jobId, null, null, data.problem);
  if (data.trigger === 'schedule') {
    const rule = config.rules.find((r) => r.id === data.ruleId);
    if (!rule) return refuse(runtime, jobId, data.ruleId, data.ruleHash, `scheduled job for rule ${data.ruleId}, which this config (${config.file}) does not have`);
    if (rule.hash !== data.ruleHash) {
      return refuse(runtime, jobId, data.ruleId, data.ruleHash, `scheduled job for rule ${rule.id} carries definition ${data.ruleHash.slice(0, 12)}, but this config (${config.file}) defines it as ${rule.hash.slice(0, 12)}`);
    }
    if (rule.schedule.kind === 'manual') return refuse(runtime, jobId, rule.id, data.ruleHash, `scheduled job for rule ${rule.id}, which this config sweeps only on \`retention run\``);
    return { rule, configHash: config.hash, actor: 'worker', trigger: 'schedule', triggerId: null, dryRun: false };
  }
  const trigger = await findTrigger(state, data.triggerId);
  if (!trigger) return refuse(runtime, jobId, null, null, `job names trigger ${JSON.stringify(data.triggerId)}, which the state database has no record of`);
  if (trigger.jobId !== jobId) return refuse(runtime, jobId, trigger.ruleId, trigger.ruleHash, `trigger ${trigger.id} was recorded for job ${trigger.jobId}, not this one`);
  const rule = config.rules.find((r) => r.id === trigger.ruleId);
  if (!rule) return refuse(runtime, jobId, trigger.ruleId, trigger.ruleHash, `run of rule ${trigger.ruleId}, which this process's config (${config.file}) does not have`);
  if (rule.hash !== trigger.ruleHash) {
    return refuse(runtime, jobId, rule.id, trigger.ruleHash, `run of rule ${rule.id} with definition ${trigger.ruleHash.slice(0, 12)}, but this process's config (${config.file}) defines it as ${rule.hash.slice(0, 12)}`);
  }
  return {
    rule,
    configHash: config.hash,
    actor: trigger.actor,
    trigger: 'manual',
    triggerId: trigger.id,
    dryRun: trigger.dryRun,
    ...(trigger.confirmToken === null ? {} : { confirm: trigger.confirmToken }),
  };
}

/** Audits a refused job and throws: nothing of it runs, and it is not retried. */
async function refuse(runtime: Runtime, jobId: string, ruleId: string | null, ruleHash: string | null, reason: string): Promise<never> {
  const { state, config } = runtime;
  const rule = ruleId === null ? undefined : config.rules.find((r) => r.id === ruleId);
  await withTransaction(state.db, async (client) => {
    const now = (await client.query<{ now: Date }>('SELECT now() AS now')).rows[0]!.now;
    await appendAudit(client, state, {
      event: 'refused',
      ruleId: ruleId ?? '',
      ruleSource: rule?.source ?? null,
      configHash: config.hash,
      sweepId: sweepIdFor(jobId),
      store: rule?.store ?? '',
      table: rule ? runtime.storeFor(rule).describe(rule) : '',
      action: rule?.action ?? null,
      dryRun: false,
      now: now.toISOString(),
      ranges: [],
      rows: 0,
      // Who added the job is unknown: the queue is not trusted to say.
      actor: 'unknown',
      trigger: 'queue',
      reason,
      ruleHash,
      configRuleHash: rule?.hash ?? null,
    });
  });
  throw new RefusedJobError(`refused job ${jobId}: ${reason}`);
}

/** Supersedes a running sweep whose definition is no longer this config's; null when it is current. */
async function supersede(runtime: Runtime, sweep: SweepRecord): Promise<{ sweepId: string; reason: string } | null> {
  const outdated = outdatedBy(runtime, sweep);
  if (!outdated) return null;
  const end = await endSweep(runtime, sweep.id, 'superseded', outdated.reason, { ruleHash: sweep.ruleHash, configRuleHash: outdated.configRuleHash });
  return end && { sweepId: end.sweepId, reason: end.reason };
}

/**
 * The blast-radius interlock: counts what the sweep would change (rows, cascaded rows and
 * owned objects: `limitedCount`) and how big the tables are,
 * and stops a sweep over the rule's limits unless `--confirm` covers it. Dry runs change
 * nothing and are never blocked; limits that cannot be exceeded skip the counting.
 */
async function checkLimits(runtime: Runtime, data: SweepRequest, plan: SweepPlan): Promise<BlockedSweep | null> {
  const { rule } = data;
  if (data.dryRun || (rule.limits.maxRowsPerRun === null && rule.limits.maxFraction >= 1)) return null;
  const store = runtime.storeFor(rule);
  const context = runtime.contextFor(rule);
  // Rows other tables would lose (or have rewritten) through foreign keys count too, and so
  // do the objects (files, S3 keys) the rows own; `total` includes the cascaded tables' rows
  // but not the objects (see limitedCount). `plan` counts through the same function.
  const selection = expired(plan.ranges);
  const rows = await store.count(rule, selection, context);
  const affected = limitedCount({
    rows,
    cascaded: (await store.countCascades?.(rule, selection, context)) ?? {},
    objects: (await store.countObjects?.(rule, selection, context)) ?? {},
  });
  const judged = await judgeLimits(rule.limits, affected, (atLeast) => store.total(rule, atLeast));
  const reason = judged.reason;
  if (reason === null) return null;
  // A blocked sweep always has its exact total (judgeLimits).
  const total = judged.total!;
  if (data.confirm !== undefined && tokenAllows(data.confirm, rule.hash, affected)) return null;
  return {
    affected,
    rows,
    total,
    reason: data.confirm === undefined ? reason : `${reason}; the --confirm token given does not cover it (it was for fewer rows or another config)`,
    confirmToken: confirmToken(rule.hash, affected),
  };
}

/** The sweep runs: its unfinished batches are handed back for the queue to (re-)enqueue. */
async function resume(
  runtime: Runtime,
  sweepId: string,
  total: number,
  joined: boolean,
  result: (fields: Omit<SweepStarted, 'ruleId' | 'superseded'>) => SweepStartOutcome,
): Promise<SweepStartOutcome> {
  const batches = await pendingBatches(runtime.state, sweepId);
  return { ...result({ sweepId, joined, batches: total }), enqueue: { sweepId, batches } };
}
