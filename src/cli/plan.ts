import { databaseNow } from '../state/database-now.js';
import type { Command } from 'commander';
import { DateTime } from 'luxon';
import { existsSync } from 'node:fs';
import { isError, UserError } from '../errors.js';
import type { AnchorRange } from '../policy/expiry.js';
import type { Config } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import { loadConfig } from '../policy/load-config.js';
import { confirmToken, judgeLimits } from '../planner/blast-radius.js';
import { limitedCount } from '../planner/limited-count.js';
import { planSweep } from '../planner/plan-sweep.js';
import { sweepLag, type SweepLag } from '../executor/next-expiry.js';
import { formatLag } from './format-lag.js';
import { openRuntime, type Runtime } from '../runtime/runtime.js';
import { STORE_KINDS } from '../stores/registry.js';
import { archiveTableOf } from '../stores/sql/sql-target.js';
import { exceptHeld, expired } from '../stores/selection.js';
import { auditKeyProblem } from '../audit/audit-key.js';
import { describeHold, holdsForRule, stoppingHold } from '../people/holds-in-force.js';
import { activeHolds, type HoldRecord } from '../state/holds.js';
import { withTransaction } from '../stores/postgres/connect.js';
import type { Unjudged } from '../stores/store.js';
import { formatTable } from './format-table.js';
import { formatUnjudged } from './format-unjudged.js';
import { configProblemsError, inspectLive } from './inspect-config.js';
import { CONFIG_OPTION, readConfig, selectRules, type ConfigOption } from './load-runtime.js';

interface PlanOptions extends ConfigOption {
  rule?: string;
  now?: string;
  json?: boolean;
  diff?: string;
}

interface RulePlan {
  rule: Rule;
  affected: number;
  ranges: AnchorRange[];
  /** Set when a sweep now would be blocked by the rule's limits. */
  blocked: { reason: string; confirm: string } | null;
  /** Rows other tables would lose (or have rewritten) through foreign keys, by table; counted by the limits (`limitedCount`). */
  cascaded: Record<string, number>;
  /** `cascade:` rules: objects (files, S3 keys) the rows own, by store; they go with the rows, and the limits count them. */
  objects: Record<string, number>;
  /** Items the rule covers but can never judge (no anchor, a malformed one): kept, and shown so nobody assumes they went. */
  unjudged: Unjudged;
  /** A hold on the whole rule: a sweep now would not start. */
  ruleHold: HoldRecord | null;
  /** Partitions a sweep now would drop whole (their rows are in `affected`); absent or empty when none. */
  drops?: string[];
  /**
   * How late the rule is: how long ago (at the plan's `now`) the oldest expired item still
   * present reached its end, and that end; absent when the store cannot tell.
   */
  lag?: SweepLag | null;
  /**
   * Of `affected`, items a sweep now would keep because their subject is on legal hold;
   * undefined when no subject hold reaches the rule, null when some do but cannot be
   * counted (no audit key to open the held ids with). `affected` and the limits count them:
   * a hold released mid-sweep lets the later batches change them.
   */
  held?: number | null;
  /** With --diff: how the old config's rule of the same id compares. */
  change?: { status: 'new' | 'changed' | 'unchanged'; before: number | null; newly: number; noLonger: number };
}

/** `retention plan`'s options and action; main.ts names and describes it, and imports this file only when the command runs. */
export function definePlan(plan: Command): void {
  plan
    .option(...CONFIG_OPTION)
    .option('--rule <id>', 'only this rule')
    .option('--now <iso>', 'judge expiry at this instant instead of the state database clock, e.g. 2027-01-01T00:00:00Z')
    .option('--diff <old.yaml>', 'compare with an older config: rows each rule would newly affect, and no longer affect')
    .option('--json', 'print JSON: {"now": ..., "rules": [{"id", "action", "affected"}]}')
    .action(async (options: PlanOptions) => {
      const config = readConfig(options);
      const rules = selectRules(config, options.rule);
      const previous = options.diff === undefined ? null : readPrevious(options.diff);
      const given = options.now === undefined ? null : parseNow(options.now);
      const runtime = await openRuntime(config);
      try {
        const problems = await inspectLive(runtime, rules, { redis: false });
        if (problems.length > 0) throw configProblemsError(config, problems);
        const now = given ?? (await databaseNow(runtime.state.db.pool));
        const cache = new Map<string, AnchorRange[]>();
        const holdsKept = await hasHoldsTable(runtime);
        const plans: RulePlan[] = [];
        for (const rule of rules) {
          const plan = planSweep(rule, now, cache);
          const store = runtime.storeFor(rule);
          const selection = expired(plan.ranges);
          const affected = await store.count(rule, selection, runtime.contextFor(rule));
          const cascaded = (await store.countCascades?.(rule, selection, runtime.contextFor(rule))) ?? {};
          const objects = (await store.countObjects?.(rule, selection, runtime.contextFor(rule))) ?? {};
          // The same count `run`'s limits judge, so the token printed is one a run takes.
          const limited = limitedCount({ rows: affected, cascaded, objects });
          const unjudged = await store.unjudged(rule);
          const holds = holdsKept ? await holdsNow(runtime, rule) : { ruleHold: null, held: [] };
          const result: RulePlan = { rule, affected, cascaded, objects, unjudged, ranges: plan.ranges, blocked: await blockedBy(runtime, rule, limited), ruleHold: holds.ruleHold };
          if (holds.held === null) result.held = null;
          else if (holds.held.length > 0) result.held = affected - (await store.count(rule, exceptHeld(selection, holds.held), runtime.contextFor(rule)));
          if (previous) result.change = await compare(runtime, previous, rule, plan.ranges, affected, now);
          result.drops = (await store.partitionsToDrop?.(rule, selection)) ?? [];
          // Items a subject hold keeps are not late: left out when the held ids can be read.
          result.lag = await sweepLag(runtime, rule, now, plan.ranges, holds.held ?? []);
          plans.push(result);
        }
        if (options.json) {
          console.log(JSON.stringify({ now: now.toISOString(), rules: plans.map(toJson), ...(previous ? { removed: removedRules(previous, config) } : {}) }));
          return;
        }
        console.log(`now: ${now.toISOString()}${options.now === undefined ? ' (state database clock)' : ' (--now)'}\n`);
        console.log(
          formatTable(
            ['rule', 'action', 'table', 'retain', 'anchors up to', 'affected', 'not judged', 'limits', ...(previous ? ['vs old', 'newly', 'no longer'] : [])],
            plans.map((p) => [
              p.rule.id,
              p.rule.action,
              runtime.storeFor(p.rule).describe(p.rule),
              // A never-store rule keeps nothing: PT0S says less than this.
              p.rule.never ? 'never stored' : p.rule.retain,
              latestExpired(p.ranges),
              p.affected,
              formatUnjudged(p.unjudged),
              p.blocked ? 'BLOCKED' : 'ok',
              ...(p.change ? [p.change.status, p.change.newly, p.change.noLonger] : []),
            ]),
          ),
        );
        for (const p of plans) {
          const archiveTable = archiveTableOf(p.rule);
          if (archiveTable !== null) console.log(`${p.rule.id}: archive ${p.affected} rows to ${archiveTable}`);
        }
        for (const p of plans.filter((x) => Object.keys(x.cascaded).length > 0)) {
          console.log(`${p.rule.id} cascades into: ${Object.entries(p.cascaded).map(([table, n]) => `${table} (${n})`).join(', ')}`);
        }
        for (const p of plans.filter((x) => Object.keys(x.objects).length > 0)) {
          console.log(`${p.rule.id} deletes the objects its rows own: ${Object.entries(p.objects).map(([store, n]) => `${store} (${n})`).join(', ')}`);
        }
        for (const p of plans.filter((x) => x.rule.never)) {
          const where = runtime.storeFor(p.rule).describe(p.rule);
          console.log(
            p.affected > 0
              ? `${p.rule.id}: never stored, but ${p.affected} item(s) are in ${where} now: a sweep ${p.rule.action === 'anonymize' ? 'anonymizes' : 'deletes'} them at once and records an incident`
              : `${p.rule.id}: never stored; nothing found in ${where} now`,
          );
        }
        for (const p of plans) {
          if (p.held === null) console.log(`${p.rule.id}: subjects on legal hold may keep some of the affected items; set RETENTION_AUDIT_KEY to count them`);
          else if (p.held !== undefined) console.log(`${p.rule.id}: ${p.held} of the affected items are kept while their subjects are on legal hold`);
          if (p.ruleHold) console.log(`rule ${p.rule.id} is on legal ${describeHold(p.ruleHold)}: a sweep would not start`);
          if (p.drops && p.drops.length > 0) {
            console.log(`${p.rule.id} drops ${p.drops.length} wholly expired partition(s), their rows counted in "affected": ${p.drops.join(', ')}`);
          }
          if (p.lag && p.lag.lagMs > 0) {
            console.log(`${p.rule.id}: lag ${formatLag(p.lag.lagMs)}: the oldest expired item still present reached its end at ${p.lag.oldestExpiredEnd}`);
          }
        }
        if (previous) {
          for (const id of removedRules(previous, config)) console.log(`rule ${id} is in ${previous.file} but not in ${config.file}: it would stop sweeping`);
        }
        for (const p of plans.filter((x) => x.blocked)) {
          if (options.now === undefined) {
            console.log(`\n${p.rule.id}: a sweep now ${p.blocked!.reason}; it would stop before touching anything.`);
            console.log(`  If this is intended: retention run --rule ${p.rule.id} --confirm ${p.blocked!.confirm}`);
          } else {
            // A run judges expiry at the state database's clock when it runs, never at --now:
            // what it counts then, and so whether a token covers it, may differ.
            console.log(`\n${p.rule.id}: a sweep at ${now.toISOString()} (--now) ${p.blocked!.reason}; it would stop before touching anything.`);
            console.log(`  A run judges expiry at the state database's clock when it runs, not at --now; run "retention plan --rule ${p.rule.id}" without --now for a token a run now takes.`);
            console.log(`  At ${now.toISOString()}, this would confirm up to ${p.blocked!.confirm.split('.')[0]} rows: retention run --rule ${p.rule.id} --confirm ${p.blocked!.confirm}`);
          }
        }
      } finally {
        await runtime.close();
      }
    });
}

function toJson(p: RulePlan) {
  return {
    id: p.rule.id,
    action: p.rule.action,
    affected: p.affected,
    ...(archiveTableOf(p.rule) !== null ? { archiveTable: archiveTableOf(p.rule) } : {}),
    ...(Object.keys(p.cascaded).length > 0 ? { cascaded: p.cascaded } : {}),
    ...(Object.keys(p.objects).length > 0 ? { objects: p.objects } : {}),
    unjudged: p.unjudged,
    ...(p.blocked ? { blocked: p.blocked } : {}),
    ...(p.change ? { diff: p.change } : {}),
    ...(p.held !== undefined ? { held: p.held } : {}),
    ...(p.drops && p.drops.length > 0 ? { dropsPartitions: p.drops } : {}),
    ...(p.ruleHold ? { onHold: { id: p.ruleHold.id, reason: p.ruleHold.reason, until: p.ruleHold.until?.toISOString() ?? null } } : {}),
    ...(p.lag ? { lagMs: p.lag.lagMs, oldestExpiredEnd: p.lag.oldestExpiredEnd } : {}),
    // A never-store rule: what it would find now (every item present is a breach).
    ...(p.rule.never ? { never: true, found: p.affected } : {}),
  };
}

/** False until the state schema is first migrated (plan never migrates it): then no hold exists. */
async function hasHoldsTable(runtime: Runtime): Promise<boolean> {
  const { rows } = await runtime.state.db.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [runtime.state.table('holds')]);
  return rows[0]!.t !== null;
}

/** PostgreSQL's lock_not_available. */
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * The holds a sweep of `rule` would meet now, read as its batches read them
 * (`holdsForRule`). `held` null: subject holds are in force, but without the audit key the
 * held ids cannot be opened to count what they keep.
 */
async function holdsNow(runtime: Runtime, rule: Rule): Promise<{ ruleHold: HoldRecord | null; held: readonly string[] | null }> {
  const { state } = runtime;
  if (auditKeyProblem(state.auditKey) !== null) {
    const holds = await activeHolds(state.db.pool, state);
    return { ruleHold: stoppingHold(holds, rule, runtime.config.rules), held: rule.subject !== null && holds.some((h) => h.subjectDigest !== null) ? null : [] };
  }
  try {
    return await withTransaction(state.db, (client) => holdsForRule(client, state, rule, runtime.config.rules));
  } catch (error) {
    // The holds lock is queued behind a `hold add` waiting for batches under way.
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    throw new UserError('a legal hold is being placed (it waits for the batches under way); run plan again in a moment', { cause: error });
  }
}

/**
 * Whether a sweep would be stopped by the rule's limits, and the token that confirms it:
 * bound to the rule as resolved (`rule.hash`), the same token `run` checks.
 */
async function blockedBy(runtime: Runtime, rule: Rule, affected: number): Promise<RulePlan['blocked']> {
  if (rule.limits.maxRowsPerRun === null && rule.limits.maxFraction >= 1) return null;
  const store = runtime.storeFor(rule);
  const { reason } = await judgeLimits(rule.limits, affected, (atLeast) => store.total(rule, atLeast));
  return reason === null ? null : { reason, confirm: confirmToken(rule.hash, affected) };
}

/** The --diff config; a missing file is named as --diff's, not as --config's. */
function readPrevious(file: string): Config {
  if (!existsSync(file)) throw new UserError(`--diff: config file not found: ${file}`);
  return loadConfig(file, process.env, STORE_KINDS);
}

/**
 * What a config change does to one rule: rows the new rule would change that the old one
 * would not ("newly"), and the reverse. Both judged at the same `now`, over the same table.
 */
async function compare(runtime: Runtime, previous: Config, rule: Rule, ranges: AnchorRange[], affected: number, now: Date): Promise<RulePlan['change']> {
  const old = previous.rules.find((r) => r.id === rule.id);
  if (!old) return { status: 'new', before: null, newly: affected, noLonger: 0 };
  // The same definition hash: the same selection and action in the same store, whatever the store kind.
  if (old.hash === rule.hash) return { status: 'unchanged', before: affected, newly: 0, noLonger: 0 };
  const store = runtime.storeFor(rule);
  // The same store, and the same thing in it as that store describes it (table, key pattern).
  const sameTarget = old.store === rule.store && old.kind === rule.kind && store.describe(old) === store.describe(rule);
  const oldProblems = sameTarget ? (await store.inspect(old, `${previous.file}: rule ${old.id}`, runtime.contextFor(old))).filter(isError) : [];
  if (!sameTarget || oldProblems.length > 0 || !store.countChange) {
    // Different table (or the old rule no longer fits it): everything it would change is new.
    return { status: 'changed', before: null, newly: affected, noLonger: 0 };
  }
  const oldRanges = planSweep(old, now).ranges;
  const { newly, noLonger } = await store.countChange(rule, expired(ranges), { rule: old, selection: expired(oldRanges) }, runtime.contextFor(rule));
  const before = await store.count(old, expired(oldRanges), runtime.contextFor(old));
  return { status: 'changed', before, newly, noLonger };
}

function removedRules(previous: Config, config: Config): string[] {
  return previous.rules.filter((r) => !config.rules.some((n) => n.id === r.id)).map((r) => r.id);
}


/** The years --now may name: wide enough for any real question, narrow enough that expiry stays within years PostgreSQL reads. */
const NOW_YEARS = { from: 1900, to: 2999 };

function parseNow(text: string): Date {
  const parsed = DateTime.fromISO(text, { setZone: true });
  if (!parsed.isValid) throw new UserError(`--now: ${JSON.stringify(text)} is not an ISO-8601 instant, e.g. 2027-01-01T00:00:00Z`);
  const year = parsed.toUTC().year;
  if (!(year >= NOW_YEARS.from && year <= NOW_YEARS.to)) {
    throw new UserError(`--now: ${JSON.stringify(text)} is outside the years ${NOW_YEARS.from}-${NOW_YEARS.to} that plan judges expiry at`);
  }
  return parsed.toJSDate();
}

/** The latest anchor in the leading (-inf, t] range: "anchors up to t are expired", for humans. */
function latestExpired(ranges: readonly AnchorRange[]): string {
  const first = ranges[0];
  if (!first || first.from !== null) return '-';
  return new Date(first.to).toISOString() + (ranges.length > 1 ? ` (+${ranges.length - 1} more)` : '');
}
