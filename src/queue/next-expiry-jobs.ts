import type { Config } from '../policy/config.js';
import { RULE_SHAPE_VERSION, type Rule } from '../policy/rule.js';
import { coalescedInstant, minSweepGapMs } from '../planner/next-expiry.js';
import { planSweep, rangesFromJson } from '../planner/plan-sweep.js';
import { nextExpiry, sweepLag } from '../executor/next-expiry.js';
import { redactText } from '../redact.js';
import type { Runtime } from '../runtime/runtime.js';
import { findSweep, type SweepRecord } from '../state/sweeps.js';
import type { SweepJobData } from './job-data.js';
import type { QueueConnection } from './redis-connection.js';
import { SWEEP_JOB_OPTIONS } from './job-options.js';
import { JOB_SWEEP } from './queue-names.js';
import type { SweepQueue } from './sweep-queue.js';

/**
 * Next-expiry scheduling: besides its regular schedule, a rule gets one delayed sweep job
 * for the instant its next item expires, so items go within seconds of their date without
 * polling the table. When a rule's sweep ends (done, whoever triggered it), when a sweep
 * finds nothing, and when the worker starts, the executor finds the rule's next expiry
 * (one index probe, see src/executor/next-expiry.ts) and this queues a sweep job for it,
 * with the payload the rule's job scheduler gives its jobs, so the executor runs it as a
 * scheduled sweep (trigger `schedule`). Nothing polls: with nothing due the table is read
 * once per sweep the regular schedule runs, and once at the instant of the next expiry.
 *
 * One job per rule: Redis holds, per rule, the instant of the job queued for it (a hash
 * field under the queue's prefix). A new instant is queued only when no job is pending for
 * an earlier or equal instant; a job clears its field as it starts (`claimNextExpiry`), so
 * its own sweep's end can queue the next. Several workers offering the same instant queue
 * it once (the script decides atomically; each offer's job id is new), and two
 * chains of jobs (a worker's start and a scheduled sweep's end) merge at the next offer.
 *
 * Rows written later with an anchor that makes them expire sooner than the instant queued
 * (a backdated anchor: a shorter `retain` never applies to newer rows), or written to a
 * table that held nothing left to expire when its last sweep ended, are not seen until a
 * sweep ends: the regular schedule catches them, as it did before.
 *
 * A sweep that ends otherwise (blocked by its limits, held, failed) queues nothing: the
 * rule is back on its regular schedule until a sweep of it ends done.
 */

/** A pending instant this far past without its job having claimed it is taken as lost (its job was removed or never added). */
const STALE_MS = 60_000;

/** Per-rule field of the queue's next-expiry hash: `<hash16>|<instant>|<seq>`. */
const FIELD_HASH_CHARS = 16;

/**
 * KEYS[1] the hash, KEYS[2] the offers' sequence; ARGV: rule id, hash16, instant, now, stale
 * ms. Unless a job for this definition is pending at an instant at or before `instant` (and
 * not stale), takes the next sequence number, sets the rule's field to
 * `hash16|instant|seq` and returns the number; else 0. The number makes each offer's job id
 * new: an id seen before (the same instant offered again after a job that fired early, its
 * host's clock ahead, is still running) would make BullMQ ignore the add, and the rule
 * would wait for its regular schedule.
 */
const OFFER = `
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local first = string.find(current, '|', 1, true)
  if first then
    local hash = string.sub(current, 1, first - 1)
    local rest = string.sub(current, first + 1)
    local second = string.find(rest, '|', 1, true)
    local at = tonumber(second and string.sub(rest, 1, second - 1) or rest)
    if hash == ARGV[2] and at and at <= tonumber(ARGV[3]) and at > tonumber(ARGV[4]) - tonumber(ARGV[5]) then return 0 end
  end
end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3] .. '|' .. seq)
return seq
`;

/** KEYS[1] the hash; ARGV: rule id, value. Deletes the field only if it still holds `value`. */
const CLAIM = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * `x-<rule>-<hash16>-<instant>-<seq>`: BullMQ refuses `:` and all-digit custom ids; rule ids
 * are `[a-z0-9-]`. (Jobs queued before the sequence have no `-<seq>`.)
 */
export function nextExpiryJobId(rule: Pick<Rule, 'id' | 'hash'>, instant: number, seq: number): string {
  return `x-${rule.id}-${rule.hash.slice(0, FIELD_HASH_CHARS)}-${instant}-${seq}`;
}

const JOB_ID = /^x-([a-z0-9-]+?)-([0-9a-f]{16})-(\d+)(?:-(\d+))?$/;

/** A next-expiry job's rule, definition, instant, and the value its rule's field holds while it is pending. */
function parseJobId(jobId: string): { ruleId: string; hash16: string; instant: number; field: string } | null {
  const match = JOB_ID.exec(jobId);
  if (!match) return null;
  const field = match[4] === undefined ? `${match[2]}|${match[3]}` : `${match[2]}|${match[3]}|${match[4]}`;
  return { ruleId: match[1]!, hash16: match[2]!, instant: Number(match[3]), field };
}

/** The job id a rule's field (`hash16|instant|seq`) stands for. */
function jobIdOfField(ruleId: string, value: string): string {
  return `x-${ruleId}-${value.split('|').join('-')}`;
}

/** The queue's own Redis connection (BullMQ types it as its narrow client interface). */
async function redisOf(queue: SweepQueue): Promise<QueueConnection> {
  return (await queue.client) as unknown as QueueConnection;
}

/** The hash holding each rule's pending instant, under the queue's prefix (on a cluster, in the queue's slot). */
function pendingKey(queue: SweepQueue): string {
  return queue.toKey('next-expiry');
}

/** The sequence numbering offers (beside the hash: one slot on a cluster). */
function sequenceKey(queue: SweepQueue): string {
  return queue.toKey('next-expiry-seq');
}

/** What an offer did: the job queued (its id and instant), or why none was. */
export type NextExpiryOffer = { queued: string; at: number } | { skipped: 'pending' | 'none' | 'not scheduled' };

/**
 * Queues the rule's sweep at `instant` (epoch ms, on the state database's clock `now`)
 * unless a job is already pending for it at that instant or earlier. The job's delay is
 * counted from the database's clock, which the sweep judges expiry by, not this host's.
 */
export async function offerNextExpiry(queue: SweepQueue, rule: Rule, instant: number, now: number): Promise<NextExpiryOffer> {
  const at = Math.ceil(instant);
  const hash16 = rule.hash.slice(0, FIELD_HASH_CHARS);
  const client = await redisOf(queue);
  const seq = Number(await client.eval(OFFER, 2, pendingKey(queue), sequenceKey(queue), rule.id, hash16, String(at), String(now), String(STALE_MS)));
  if (!(seq > 0)) return { skipped: 'pending' };
  const jobId = nextExpiryJobId(rule, at, seq);
  const data: SweepJobData = { trigger: 'schedule', ruleId: rule.id, ruleHash: rule.hash, v: RULE_SHAPE_VERSION };
  await queue.add(JOB_SWEEP, data, { ...SWEEP_JOB_OPTIONS, jobId, delay: Math.max(0, at - now) });
  return { queued: jobId, at };
}

/**
 * A next-expiry job starting: clears its rule's pending instant if it is still this job's,
 * so the end of the sweep it starts can queue the next. Other jobs: nothing.
 */
export async function claimNextExpiry(queue: SweepQueue, jobId: string): Promise<boolean> {
  const parsed = parseJobId(jobId);
  if (!parsed) return false;
  const client = await redisOf(queue);
  return Number(await client.eval(CLAIM, 1, pendingKey(queue), parsed.ruleId, parsed.field)) === 1;
}

/**
 * The instant (epoch ms) of the next-expiry sweep pending for `rule` as this config defines
 * it, for `retention status`: null when none is, when the one recorded is for another
 * definition, or when its job is no longer queued (run, or removed). Reads only.
 */
export async function pendingNextExpiry(queue: SweepQueue, rule: Pick<Rule, 'id' | 'hash'>): Promise<number | null> {
  const value = await (await redisOf(queue)).hget(pendingKey(queue), rule.id);
  if (value === null) return null;
  const [hash16, instant] = value.split('|');
  if (hash16 !== rule.hash.slice(0, FIELD_HASH_CHARS) || !instant || !/^\d+$/.test(instant)) return null;
  const job = await queue.getJob(jobIdOfField(rule.id, value));
  return job && ((await job.isDelayed()) || (await job.isWaiting())) ? Number(instant) : null;
}

/** The rule as this config has it, when it is one next-expiry scheduling serves. */
function scheduledRule(config: Config, ruleId: string, ruleHash: string | null): Rule | null {
  const rule = config.rules.find((r) => r.id === ruleId && r.hash === ruleHash);
  return rule && rule.schedule.kind !== 'manual' ? rule : null;
}

async function databaseNow(runtime: Runtime): Promise<number> {
  const { rows } = await runtime.state.db.pool.query<{ now: Date }>('SELECT clock_timestamp() AS now');
  return rows[0]!.now.getTime();
}

/**
 * After a sweep of a scheduled rule ended done (its last batch, or planned with nothing to
 * do): queues the next expiry found past the sweep's expired ranges, never sooner than
 * `minSweepGapMs(rule)` after the sweep's `now` (a second; a minute for a never-store
 * rule). Dry runs and rules swept only by `retention run` get none; nor, unless `afterManual` (the worker service), a sweep `retention run`
 * asked for: its in-process worker leaves the queue as it found it, but carries on the
 * chain of a scheduled sweep it happens to run.
 */
export async function scheduleAfterSweep(runtime: Runtime, queue: SweepQueue, sweep: SweepRecord, afterManual = true): Promise<NextExpiryOffer> {
  const rule = scheduledRule(runtime.config, sweep.ruleId, sweep.ruleHash);
  if (!rule || sweep.dryRun || sweep.status !== 'done') return { skipped: 'not scheduled' };
  if (sweep.trigger !== 'schedule' && !afterManual) return { skipped: 'not scheduled' };
  const next = await nextExpiry(runtime, rule, rangesFromJson(sweep.ranges));
  if (!next) return { skipped: 'none' };
  return offerNextExpiry(queue, rule, coalescedInstant(next.at, sweep.now.getTime(), minSweepGapMs(rule)), await databaseNow(runtime));
}

/**
 * At the worker's start (and when Redis comes back): for each scheduled rule, a sweep now
 * when expired items are waiting (the worker was down), else one at the next expiry.
 * Pending instants of rules no longer in the config, or defined differently, go with their
 * jobs first.
 */
export async function seedNextExpiries(runtime: Runtime, queue: SweepQueue): Promise<Map<string, NextExpiryOffer | { error: string }>> {
  await pruneNextExpiries(queue, runtime.config);
  const offers = new Map<string, NextExpiryOffer | { error: string }>();
  for (const rule of runtime.config.rules) {
    if (rule.schedule.kind === 'manual') continue;
    // One rule's store being down leaves that rule to its regular schedule, not the others.
    offers.set(rule.id, await seedRule(runtime, queue, rule).catch((error: Error) => ({ error: redactText(error.message ?? String(error)) })));
  }
  return offers;
}

async function seedRule(runtime: Runtime, queue: SweepQueue, rule: Rule): Promise<NextExpiryOffer> {
  const now = await databaseNow(runtime);
  const { ranges } = planSweep(rule, new Date(now));
  const lag = await sweepLag(runtime, rule, new Date(now), ranges);
  if (lag?.oldestExpiredEnd) return offerNextExpiry(queue, rule, now, now);
  const next = await nextExpiry(runtime, rule, ranges);
  return next ? offerNextExpiry(queue, rule, Math.max(next.at, now), now) : { skipped: 'none' };
}

/**
 * Removes the pending jobs (and instants) of rules that left the config, became manual or
 * changed, and the instants whose job is gone (removed by hand), which would otherwise
 * hold back every offer until they are stale.
 */
async function pruneNextExpiries(queue: SweepQueue, config: Config): Promise<void> {
  const client = await redisOf(queue);
  const pending = await client.hgetall(pendingKey(queue));
  for (const [ruleId, value] of Object.entries(pending)) {
    const [hash16] = value.split('|');
    const rule = config.rules.find((r) => r.id === ruleId);
    const job = await queue.getJob(jobIdOfField(ruleId, value));
    const current = rule !== undefined && rule.schedule.kind !== 'manual' && rule.hash.slice(0, FIELD_HASH_CHARS) === hash16;
    if (current && job) continue;
    if (job && ((await job.isDelayed()) || (await job.isWaiting()))) await job.remove().catch(() => undefined);
    await client.eval(CLAIM, 1, pendingKey(queue), ruleId, value);
  }
}

/**
 * A next-expiry job that joined a sweep already running (an admin's `retention run`, a
 * scheduled sweep): it claimed its rule's instant, and the sweep it joined may end on a
 * worker that queues nothing (`retention run`'s), which would leave the rule to its regular
 * schedule. So the next expiry past the joined sweep's ranges is queued now (never sooner
 * than `minSweepGapMs(rule)` after that sweep's `now`); the sweep's own end offers again, and
 * the earlier of the two instants stands. Never throws (see `scheduleAfterSweepOf`).
 */
export async function scheduleAfterJoin(runtime: Runtime, queue: SweepQueue, sweepId: string): Promise<NextExpiryOffer | { error: string }> {
  try {
    const sweep = await findSweep(runtime.state, sweepId);
    const rule = sweep && scheduledRule(runtime.config, sweep.ruleId, sweep.ruleHash);
    if (!sweep || !rule || sweep.dryRun) return { skipped: 'not scheduled' };
    const next = await nextExpiry(runtime, rule, rangesFromJson(sweep.ranges));
    if (!next) return { skipped: 'none' };
    return await offerNextExpiry(queue, rule, coalescedInstant(next.at, sweep.now.getTime(), minSweepGapMs(rule)), await databaseNow(runtime));
  } catch (error) {
    return { error: redactText((error as Error).message ?? String(error)) };
  }
}

/**
 * `scheduleAfterSweep` for the sweep `sweepId` if it is done; never throws: a failure to
 * queue leaves the rule to its regular schedule, and is returned for the worker's log.
 */
export async function scheduleAfterSweepOf(runtime: Runtime, queue: SweepQueue, sweepId: string, afterManual = true): Promise<NextExpiryOffer | { error: string }> {
  try {
    const sweep = await findSweep(runtime.state, sweepId);
    return sweep ? await scheduleAfterSweep(runtime, queue, sweep, afterManual) : { skipped: 'not scheduled' };
  } catch (error) {
    return { error: redactText((error as Error).message ?? String(error)) };
  }
}
