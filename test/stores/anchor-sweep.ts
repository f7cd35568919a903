import { DateTime, Duration } from 'luxon';
import type { TestEnv } from '../helpers/test-env.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import type { AnchorRange } from '../../src/policy/expiry.js';
import type { Rule } from '../../src/policy/rule.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { expired } from '../../src/stores/selection.js';

export type AnchorType = 'timestamptz' | 'timestamp' | 'date';

export interface AnchorSweepSpec {
  type: AnchorType;
  /** The rule's zone (top-level `timezone`). */
  zone: string;
  retain: string;
  /** The fixed instant the sweep is planned at, ISO with an offset. */
  now: string;
  /**
   * Label -> anchor literal as PostgreSQL reads it for `type`: an ISO instant with offset
   * (timestamptz), a wall-clock `2026-08-31T12:00:00` (timestamp) or `2026-08-31` (date).
   */
  rows: Record<string, string | null>;
  /** Extra rule fields (e.g. `where`). */
  rule?: Record<string, unknown>;
}

export interface AnchorSweepResult {
  /** What `store.count` says the predicate matches at `now`. */
  counted: number;
  /** What `store.apply` deleted. */
  deleted: number;
  /** Labels left in the table after the delete, sorted. */
  kept: string[];
  /** Labels whose period has ended at `now` by luxon's calendar arithmetic, sorted. */
  dueByLuxon: string[];
  /** Labels luxon says are still within their period (NULL anchors included), sorted. */
  notDueByLuxon: string[];
}

let tables = 0;

/**
 * One runtime per env serves every rule of these tests: they all name the env's one store,
 * and the zone a rule is read in comes from the rule itself (`contextFor(rule)`).
 */
const runtimes = new WeakMap<TestEnv, Promise<Runtime>>();
function runtimeFor(env: TestEnv, config: Parameters<TestEnv['runtime']>[0]): Promise<Runtime> {
  let runtime = runtimes.get(env);
  if (!runtime) {
    runtime = env.runtime(config);
    runtimes.set(env, runtime);
  }
  return runtime;
}

/**
 * Expired ranges are a pure function of (retain, zone, now) and take luxon a noticeable
 * time to compute for calendar durations; tests in one file that share them plan once.
 */
const plans = new Map<string, AnchorRange[]>();
function rangesFor(rule: Rule, now: Date): AnchorRange[] {
  const key = `${rule.retain}|${rule.timezone}|${now.getTime()}`;
  let ranges = plans.get(key);
  if (!ranges) {
    ranges = planSweep(rule, now).ranges;
    plans.set(key, ranges);
  }
  return ranges;
}

/**
 * Puts `rows` in a fresh table with an anchor column of `type`, counts and then deletes
 * what a delete rule matches at the fixed `now`, and works out independently (luxon,
 * from the literals, not from SQL) which rows are due.
 */
export async function sweepAnchors(env: TestEnv, spec: AnchorSweepSpec): Promise<AnchorSweepResult> {
  const table = `anchors_${++tables}`;
  await env.sql(`CREATE TABLE ${env.schema}.${table} (id serial PRIMARY KEY, label text NOT NULL UNIQUE, at ${spec.type})`);
  const labels = Object.keys(spec.rows);
  await env.sql(
    `INSERT INTO ${env.schema}.${table} (label, at) SELECT l, v::${spec.type} FROM unnest($1::text[], $2::text[]) AS u(l, v)`,
    [labels, labels.map((l) => spec.rows[l] ?? null)],
  );
  const config = env.config(
    [{ id: 'anchors', table, anchor: 'at', retain: spec.retain, action: 'delete', batchSize: 100, limits: { maxFraction: 1 }, ...spec.rule }],
    { timezone: spec.zone },
  );
  const runtime = await runtimeFor(env, config);
  const rule = config.rules[0]!;
  const now = DateTime.fromISO(spec.now, { setZone: true });
  if (!now.isValid) throw new Error(`bad now ${spec.now}`);
  const ranges = rangesFor(rule, now.toJSDate());
  const store = runtime.storeFor(rule);
  const context = runtime.contextFor(rule);

  const counted = await store.count(rule, expired(ranges), context);
  const deleted = (await store.apply({ rule, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context }, undefined)).rows;
  const left = await env.sql<{ label: string }>(`SELECT label FROM ${env.schema}.${table} ORDER BY label COLLATE "C"`);

  const retain = Duration.fromISO(spec.retain);
  const due = (value: string | null): boolean => {
    if (value === null) return false;
    const anchor = anchorMillis(spec.type, value, spec.zone);
    return DateTime.fromMillis(anchor, { zone: spec.zone }).plus(retain).toMillis() <= now.toMillis();
  };
  return {
    counted,
    deleted,
    kept: left.map((r) => r.label),
    dueByLuxon: labels.filter((l) => due(spec.rows[l] ?? null)).sort(),
    notDueByLuxon: labels.filter((l) => !due(spec.rows[l] ?? null)).sort(),
  };
}

/** The instant an anchor literal stands for, read the way the rule reads it. */
export function anchorMillis(type: AnchorType, value: string, zone: string): number {
  const parsed = type === 'timestamptz' ? DateTime.fromISO(value, { setZone: true }) : DateTime.fromISO(value, { zone });
  if (!parsed.isValid) throw new Error(`bad ${type} literal ${value}`);
  return (type === 'date' ? parsed.startOf('day') : parsed).toMillis();
}

/** Literal for `type` of the instant `ms`, as a wall clock in `zone` where the type has no zone. */
export function anchorLiteral(type: AnchorType, ms: number, zone: string): string {
  if (type === 'timestamptz') return new Date(ms).toISOString();
  const local = DateTime.fromMillis(ms, { zone });
  return type === 'date' ? local.toISODate()! : local.toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS");
}
