import { databaseNow } from '../state/database-now.js';
import { unfinishedSunsets, type UnfinishedSunset } from '../audit/unfinished-sunsets.js';
import { UserError } from '../errors.js';
import { holdsForRule, type HoldsForRule } from '../people/holds-in-force.js';
import type { DataCategory } from '../policy/data-category.js';
import type { Action, Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, type HoldRecord } from '../state/holds.js';
import { isObjectOutbox } from '../stores/owned-objects.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { everything, exceptHeld, UnsupportedSelection } from '../stores/selection.js';
import { archiveIntoKept, type ArchiveKept } from '../sunset/archive-into-kept.js';
import { tablesOverlap } from '../sunset/kept-overlap.js';
import type { EntryFate, SunsetScope } from '../sunset/sunset-scope.js';
import { sunsetToken } from '../sunset/sunset-digest.js';
import { uncoveredColumns } from '../sunset/uncovered-columns.js';
import { inErasureOrder } from './request-rules.js';
import { SUBJECTLESS_HELD, subjectlessHold } from './subjectless-hold.js';

/** PostgreSQL's lock_not_available. */
const LOCK_NOT_AVAILABLE = '55P03';

/** What the sunset would do with one rule, counted now over all its items, whatever their age. */
export interface RuleAtSunset {
  id: string;
  store: string;
  /** What plan and the audit show: `public.users`, `session:*`, `/srv/uploads/photos/**`. */
  target: string;
  /** The rule's own action. */
  ruleAction: Action;
  /** What the sunset does: anonymize for an anonymize rule, else delete (`expire` and `archive` too). */
  action: 'delete' | 'anonymize';
  ruleHash: string;
  /** Inventory entries whose place it is on (`inventory[0]`); empty: a rule not in the inventory. */
  inventory: string[];
  /** Items it would change now (its `where` filters, every age, NULL anchors included), held ones left out. */
  affected: number;
  /** Items subject holds in force keep (all its items when `ruleHold`). */
  held: number;
  /** A hold on the whole rule: the sunset skips it. */
  ruleHold: { id: string; reason: string } | null;
  /** Why `ruleHold` stops it when the hold is not on this rule (a subject hold and a rule without `subject`). */
  heldWhy?: string;
  /** Anonymize rules: items its filters select that are already anonymized (they stay, anonymized). */
  alreadyDone?: number;
  /** Rows other tables would lose through `ON DELETE CASCADE` (or have rewritten), by table. */
  cascaded: Record<string, number>;
  /** Objects (files, S3 keys) the deleted rows own (`cascade:`), by store: they go with the rows. */
  objects: Record<string, number>;
  /** Why its store cannot select every item (a module store): nothing of it can be done. Null when it can. */
  refused: string | null;
  /**
   * An `archive` rule whose archive table a `keptBecause` entry keeps: its rows are deleted
   * at sunset, not archived into the kept table (which stays as it is). Said in the plan.
   */
  archiveKept?: ArchiveKept[];
}

/** What becomes of one inventory entry. */
export interface EntryAtSunset {
  path: string;
  store: string;
  place: string;
  categories: DataCategory[];
  fate: EntryFate;
  /** The rules on its place (for `kept`: those not applied because of it). */
  rules: string[];
  keptBecause: string | null;
  /** A kept entry with no reason of its own: the entries whose `keptBecause` keeps its place. */
  keptBy?: string[];
  /**
   * `applied` table entries: rows no rule on it selects (their `where` filters), which
   * stay as they are. Null when not counted (a store kind without filters: what its rules'
   * targets do not cover under the place stays too).
   */
  outside: number | null;
  /**
   * `applied` table entries with `columns`: those the applied rules leave in clear in rows
   * they keep (an anonymize rule rewrites only its own columns; see `uncoveredColumns`).
   * Remaining personal data, said in the plan and the receipt.
   */
  uncoveredColumns: string[];
}

export interface SunsetHold {
  id: string;
  /** `subject 3f2a9c1b0d4e` (a digest prefix, never the id) or `rule login-logs`, or both. */
  on: string;
  reason: string;
  until: string | null;
}

export interface SunsetPlan {
  /** The state database's clock when the plan was counted. */
  now: string;
  configHash: string;
  entries: EntryAtSunset[];
  /** The rules the sunset applies, in the order it applies them. */
  rules: RuleAtSunset[];
  /**
   * Rules not applied because they could touch what a `keptBecause` entry keeps: their
   * target may name its place, their rows own objects under its root, or their deletes
   * cascade (foreign keys) into its table. `why` says which.
   */
  kept: KeptAtSunset[];
  holds: SunsetHold[];
  /**
   * Objects deleted rows own that wait in each SQL store's outbox (queued by this or an
   * earlier run, due or postponed), for the stores the sunset's rules use: the execute
   * drains them all, and is complete only once none is left.
   */
  outbox: Record<string, number>;
  /**
   * Earlier sunsets the audit log shows started and never finished (crashed, or running
   * now): one may have changed a store other than the state database and died before
   * recording it, so the log does not describe everything that happened. Named in the
   * plan, the next `sunset-started` entry and the receipt.
   */
  unfinished: UnfinishedSunset[];
  /** The digest `--execute --confirm` must be given. */
  token: string;
}

/** A rule the sunset does not apply because of a kept inventory entry. */
export interface KeptAtSunset {
  id: string;
  target: string;
  keptBy: string[];
  why: string[];
}

/** The rule as a sunset has its store apply it: an anonymize rule anonymizes; every other deletes (`expire`, `archive`). */
export function actingRule(rule: Rule): Rule {
  return rule.action === 'anonymize' || rule.action === 'delete' ? rule : { ...rule, action: 'delete' };
}

/**
 * Counts what a sunset would do now, changing nothing: every rule of `scope` applied to
 * all its items whatever their age, within its filters, minus what holds in force keep.
 * The holds are read as a batch reads them (`holdsForRule`), so the raw ids of held
 * subjects are needed: the runtime must hold the audit key when a subject hold exists.
 */
export async function planSunset(runtime: Runtime, scope: SunsetScope): Promise<SunsetPlan> {
  const { state, config } = runtime;
  const now = (await databaseNow(state.db.pool)).toISOString();
  const sorted = await sunsetOrder(runtime, scope.rules);
  const cascadeKept = await keptByForeignKeys(runtime, scope, sorted);
  const ordered = sorted.filter((rule) => !cascadeKept.has(rule.id));
  const { holds, perRule, subjectless } = await readHolds(runtime, ordered);

  const rules: RuleAtSunset[] = [];
  for (const rule of ordered) {
    const store = runtime.storeFor(rule);
    const acting = actingRule(rule);
    const context = runtime.contextFor(rule);
    const ruleHolds = perRule.get(rule.id)!;
    const archiveKept = archiveIntoKept(rule, config.inventory, scope.places);
    const base = {
      id: rule.id,
      store: rule.store,
      target: store.describe(rule),
      ruleAction: rule.action,
      action: acting.action === 'anonymize' ? ('anonymize' as const) : ('delete' as const),
      ruleHash: rule.hash,
      inventory: scope.entries.filter((e) => e.rules.includes(rule)).map((e) => e.entry.path),
      ruleHold: ruleHolds.ruleHold ? { id: ruleHolds.ruleHold.id, reason: ruleHolds.ruleHold.reason } : null,
      ...(subjectless.has(rule.id) ? { heldWhy: SUBJECTLESS_HELD } : {}),
      ...(archiveKept.length > 0 ? { archiveKept } : {}),
    };
    try {
      const all = everything();
      const selection = ruleHolds.ruleHold ? all : exceptHeld(all, ruleHolds.held);
      const selected = await store.count(acting, selection, context);
      const withHeld = ruleHolds.ruleHold !== null || ruleHolds.held.length > 0 ? await store.count(acting, all, context) : selected;
      const affected = ruleHolds.ruleHold ? 0 : selected;
      const counted: RuleAtSunset = {
        ...base,
        affected,
        held: withHeld - affected,
        cascaded: ruleHolds.ruleHold ? {} : ((await store.countCascades?.(acting, selection, context)) ?? {}),
        objects: ruleHolds.ruleHold ? {} : ((await store.countObjects?.(acting, selection, context)) ?? {}),
        refused: null,
      };
      if (acting.action === 'anonymize' && !ruleHolds.ruleHold) {
        // Rows its filters select, done or not: the same rule deleting counts them all.
        counted.alreadyDone = (await store.count({ ...acting, action: 'delete' }, selection, context)) - affected;
      }
      rules.push(counted);
    } catch (error) {
      if (!(error instanceof UnsupportedSelection)) throw error;
      // Said, never guessed around: selecting only the items it can judge would leave the rest silently.
      rules.push({ ...base, affected: 0, held: 0, cascaded: {}, objects: {}, refused: `store ${rule.store} (${store.kind}): ${error.message}` });
    }
  }

  const kept: KeptAtSunset[] = [
    ...scope.kept.map((k) => ({ id: k.rule.id, target: runtime.storeFor(k.rule).describe(k.rule), keptBy: k.keptBy, why: k.why })),
    ...cascadeKept.values(),
  ];
  // Only rules that will change something: one held whole or refused leaves its items as they are.
  const changing = new Set(rules.filter((r) => r.refused === null && r.ruleHold === null).map((r) => r.id));
  const entries: EntryAtSunset[] = [];
  for (const scoped of scope.entries) {
    const { entry } = scoped;
    // An entry whose every rule is kept (by another entry, or because it cascades into one) is kept.
    const keptRules = kept.filter((k) => scoped.rules.some((r) => r.id === k.id));
    const fate: EntryFate = scoped.fate === 'applied' && keptRules.length === scoped.rules.length ? 'kept' : scoped.fate;
    let outside: number | null = null;
    let uncovered: string[] = [];
    if (fate === 'applied' && entry.place.kind === 'table') {
      const applied = scoped.rules.filter((r) => changing.has(r.id)).map(actingRule);
      if (applied.length > 0) outside = (await runtime.storeFor(applied[0]!).countOutside?.(applied)) ?? null;
      else outside = await everyRow(runtime, scoped.rules[0]!);
      uncovered = uncoveredColumns(entry, applied);
    }
    const keptBy = fate === 'kept' && entry.keptBecause === null ? keptRules.flatMap((k) => k.keptBy) : [];
    entries.push({
      path: entry.path,
      store: entry.store,
      place: scoped.place,
      categories: scoped.categories,
      fate,
      rules: scoped.rules.map((r) => r.id),
      keptBecause: entry.keptBecause,
      ...(keptBy.length > 0 ? { keptBy: [...new Set(keptBy)] } : {}),
      outside,
      uncoveredColumns: uncovered,
    });
  }

  const outbox = await pendingOutbox(runtime, ordered);
  const unfinished = await unfinishedSunsets(state);
  const plan: Omit<SunsetPlan, 'token'> = { now, configHash: config.hash, entries, rules, kept, holds, outbox, unfinished };
  return { ...plan, token: sunsetToken(tokenFacts(plan)) };
}

/**
 * What the token binds: everything the plan says would happen or stay, not when it was
 * counted. The rules' definition hashes cover `${VAR}` values the file's hash cannot.
 */
function tokenFacts(plan: Omit<SunsetPlan, 'token'>) {
  return {
    configHash: plan.configHash,
    rules: plan.rules.map((r) => ({
      id: r.id,
      ruleHash: r.ruleHash,
      action: r.action,
      affected: r.affected,
      held: r.held,
      ruleHold: r.ruleHold?.id ?? null,
      alreadyDone: r.alreadyDone,
      cascaded: r.cascaded,
      objects: r.objects,
      refused: r.refused !== null,
      archiveKept: r.archiveKept?.map((a) => a.keptBy) ?? [],
    })),
    entries: plan.entries.map((e) => ({ path: e.path, fate: e.fate, outside: e.outside, uncoveredColumns: e.uncoveredColumns })),
    kept: plan.kept.map((k) => ({ id: k.id, why: k.why })),
    holds: plan.holds.map((h) => h.id),
    outbox: plan.outbox,
    unfinished: plan.unfinished.map((u) => u.sunsetId),
  };
}

/**
 * The order a sunset applies its rules in: within each store children before the rows they
 * reference (the erasure order, from the catalog), which wins; where it leaves the order
 * free, deletes before anonymizations, so rows one rule deletes are not first rewritten by
 * another.
 */
export async function sunsetOrder(runtime: Runtime, rules: readonly Rule[]): Promise<Rule[]> {
  const deletesFirst = [...rules.filter((r) => actingRule(r).action !== 'anonymize'), ...rules.filter((r) => actingRule(r).action === 'anonymize')];
  return inErasureOrder(runtime, deletesFirst);
}

/**
 * The holds in force, and what they mean for each rule, read in one state transaction under
 * the holds lock (as every batch reads them). No holds table yet (the state schema was
 * never migrated): no hold exists.
 */
async function readHolds(runtime: Runtime, rules: readonly Rule[]): Promise<{ holds: SunsetHold[]; perRule: Map<string, HoldsForRule>; subjectless: Set<string> }> {
  const { state, config } = runtime;
  const perRule = new Map<string, HoldsForRule>();
  const none: HoldsForRule = { ruleHold: null, held: [], heldDigests: new Set() };
  const { rows } = await state.db.pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [state.table('holds')]);
  if (rows[0]!.t === null) {
    for (const rule of rules) perRule.set(rule.id, none);
    return { holds: [], perRule, subjectless: new Set() };
  }
  const records = await withTransaction(state.db, async (tx) => {
    for (const rule of rules) perRule.set(rule.id, await holdsForRule(tx, state, actingRule(rule), config.rules));
    return activeHolds(tx, state);
  }).catch((error: unknown) => {
    // The holds lock is queued behind a `hold add` waiting for changes under way.
    if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error;
    throw new UserError('a legal hold is being placed (it waits for the changes under way); plan the sunset again in a moment', { cause: error });
  });
  // A rule that cannot tell whose its items are would take a held person's with the rest.
  const subjectless = new Set<string>();
  for (const rule of rules) {
    const stop = perRule.get(rule.id)!.ruleHold === null ? subjectlessHold(records, rule) : null;
    if (stop) {
      perRule.set(rule.id, { ...perRule.get(rule.id)!, ruleHold: stop });
      subjectless.add(rule.id);
    }
  }
  return { holds: records.map(describeHoldBriefly), perRule, subjectless };
}

/**
 * Rules whose deletes cascade through foreign keys (`ON DELETE CASCADE`, `SET NULL`,
 * `SET DEFAULT`) into a table a `keptBecause` entry keeps: not applied, whatever the
 * rows counted now (a row written there later would go too). The tables are the
 * store's own cascade targets, read from the catalog.
 */
async function keptByForeignKeys(runtime: Runtime, scope: SunsetScope, rules: readonly Rule[]): Promise<Map<string, KeptAtSunset>> {
  const keptTables = scope.entries.filter((e) => e.entry.keptBecause !== null && e.entry.place.kind === 'table');
  const out = new Map<string, KeptAtSunset>();
  if (keptTables.length === 0) return out;
  for (const rule of rules) {
    const store = runtime.storeFor(rule);
    const acting = actingRule(rule);
    if (acting.action !== 'delete' || !store.countCascades) continue;
    let labels: string[];
    try {
      labels = Object.keys(await store.countCascades(acting, everything(), runtime.contextFor(rule)));
    } catch (error) {
      if (error instanceof UnsupportedSelection) continue;
      throw error;
    }
    for (const label of labels) {
      const table = label.replace(/ \(.*\)$/, '');
      for (const kept of keptTables) {
        const place = kept.entry.place as { kind: 'table'; table: string };
        if (!tablesOverlap(kept.entry.store, place.table, rule.store, table, scope.places)) continue;
        const k = out.get(rule.id) ?? { id: rule.id, target: store.describe(rule), keptBy: [], why: [] };
        if (!k.keptBy.includes(kept.entry.path)) k.keptBy.push(kept.entry.path);
        k.why.push(`its deletes cascade through foreign keys into ${label}, which ${kept.entry.path} (${kept.place} on store ${kept.entry.store}) keeps`);
        out.set(rule.id, k);
      }
    }
  }
  return out;
}

/** Every row of a rule's table, none filtered: what stays of an entry none of whose rules changes anything. */
async function everyRow(runtime: Runtime, rule: Rule): Promise<number | null> {
  const target = rule.target as { where?: unknown } | null;
  if (target === null || typeof target !== 'object') return null;
  const unfiltered = { ...rule, action: 'delete', target: { ...target, where: [] } } as Rule;
  try {
    return await runtime.storeFor(rule).count(unfiltered, everything(), runtime.contextFor(rule));
  } catch (error) {
    if (error instanceof UnsupportedSelection) return null;
    throw error;
  }
}

/** Objects waiting in the outbox of each SQL store the rules use. */
async function pendingOutbox(runtime: Runtime, rules: readonly Rule[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const name of outboxStores(runtime, rules)) {
    const store = runtime.stores().find((s) => s.name === name)!;
    if (isObjectOutbox(store)) out[name] = await store.pendingObjects();
  }
  return out;
}

/** The SQL stores (those keeping a cascade outbox) the rules are on, in rule order. */
export function outboxStores(runtime: Runtime, rules: readonly Rule[]): string[] {
  return [...new Set(rules.map((r) => r.store))].filter((name) => {
    const store = runtime.stores().find((s) => s.name === name);
    return store !== undefined && isObjectOutbox(store);
  });
}

function describeHoldBriefly(hold: HoldRecord): SunsetHold {
  const on = [hold.subjectDigest ? `subject ${hold.subjectDigest.slice(0, 12)}` : null, hold.ruleId ? `rule ${hold.ruleId}` : 'every rule'].filter(Boolean).join(' in ');
  return { id: hold.id, on, reason: hold.reason, until: hold.until?.toISOString() ?? null };
}
