import { holdsForRule } from '../people/holds-in-force.js';
import { subjectDigest } from '../people/subject-digest.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { ledgerSince } from '../state/requests.js';
import { withTransaction } from '../stores/postgres/connect.js';
import { ofSubject } from '../stores/selection.js';
import { applyToSubject, heldReason } from './apply-subject.js';
import { drainCascades } from './drain-cascades.js';
import { erasureRules } from './request-rules.js';

/**
 * Why a rule of the ledger was not replayed; in each case replay cannot tell whom a
 * restore brought back there, and says so rather than guess:
 * `missing`: the rule left the config; `no-subject`: it no longer declares a subject;
 * `cannot-scan`: its store kind cannot list the subjects it holds; `failed`: an error
 * (`reason`); `skipped`: a rule before it in the same store failed (children go first).
 */
export type ErasureReplayStatus = 'replayed' | 'missing' | 'no-subject' | 'cannot-scan' | 'failed' | 'skipped';

/** A person found again and kept because of a legal hold: by digest and request, never the id. */
export interface HeldSubject {
  subject: string;
  requestId: string;
  reason: string;
}

/** What replay did in one rule of the ledger. */
export interface ErasureReplay {
  ruleId: string;
  status: ErasureReplayStatus;
  /** People the ledger says were erased from the rule at or after `since`. */
  subjects: number;
  /** Of them, people the scan found in the rule's store again with items to erase. */
  found: number;
  /** Items erased again (dry run: that would be). */
  rows: number;
  /** People found but kept: on legal hold. */
  held: HeldSubject[];
  /** Items of the people found still there after their pass (changed meanwhile, or refused by the store). */
  left: number;
  /** `cascade:` rules: objects the deleted rows owned, queued and drained before replay returns, by store. */
  objects: Record<string, number>;
  /** The rule's definition differs from the one the erasure ran under: the current one decided. */
  changed: boolean;
  reason?: string;
}

export interface ReplayErasuresOptions {
  actor: string;
  /** Count with each person's subject selection; change and record nothing. */
  dryRun: boolean;
}

/**
 * After a restore: erases again everyone the ledger says was erased at or after `since`
 * (the backup's time), in each rule that erased them. The ledger knows people only by
 * keyed digest, so each rule's store is scanned for the subject values it holds
 * (`scanSubjects`), each is digested with the audit key, and a value whose digest the
 * ledger lists for that rule is erased again with its subject selection, through the same
 * path as the request (`applyToSubject`: the holds read in the state transaction that
 * records each change), audited as `replayed`. A held person is kept and reported.
 *
 * Rules run children first in each store, as a request runs them. A rule the ledger names
 * that the config no longer has (or that no longer declares a subject) is reported, not
 * guessed at; the current definition of a rule decides what its subject selection covers,
 * also when it changed since the erasure.
 */
export async function replayErasures(runtime: Runtime, since: Date, options: ReplayErasuresOptions): Promise<ErasureReplay[]> {
  const { state, config } = runtime;
  const ledger = await ledgerSince(state.db.pool, state, since);
  // Per rule: digest -> the request that erased that person there (the latest, if several).
  const byRule = new Map<string, { hashes: Set<string>; people: Map<string, string> }>();
  for (const entry of ledger) {
    const rule = byRule.get(entry.ruleId) ?? { hashes: new Set<string>(), people: new Map<string, string>() };
    rule.hashes.add(entry.ruleHash);
    rule.people.set(entry.subjectDigest, entry.requestId);
    byRule.set(entry.ruleId, rule);
  }
  if (byRule.size === 0) return [];

  const report = (ruleId: string, status: ErasureReplayStatus, extra: Partial<ErasureReplay> = {}): ErasureReplay => ({
    ruleId,
    status,
    subjects: byRule.get(ruleId)!.people.size,
    found: 0,
    rows: 0,
    held: [],
    left: 0,
    objects: {},
    changed: false,
    ...extra,
  });
  const results: ErasureReplay[] = [];
  const ordered = (await erasureRules(runtime)).filter((r) => byRule.has(r.id));
  const failedStores = new Set<string>();
  const queued = new Set<string>();
  for (const rule of ordered) {
    const { hashes, people } = byRule.get(rule.id)!;
    const changed = [...hashes].some((h) => h !== rule.hash);
    if (failedStores.has(rule.store)) {
      results.push(report(rule.id, 'skipped', { changed, reason: `a rule before it in store ${rule.store} could not be replayed` }));
      continue;
    }
    if (!runtime.storeFor(rule).scanSubjects) {
      results.push(report(rule.id, 'cannot-scan', { changed, reason: `store ${rule.store} (kind ${runtime.storeFor(rule).kind}) cannot list the subjects it holds` }));
      failedStores.add(rule.store);
      continue;
    }
    try {
      const done = await replayRule(runtime, rule, people, since, options);
      results.push({ ...done, changed });
      if (Object.values(done.objects).some((n) => n > 0)) queued.add(rule.store);
      if (done.left > 0) failedStores.add(rule.store);
    } catch (error) {
      results.push(report(rule.id, 'failed', { changed, reason: (error as Error).message }));
      failedStores.add(rule.store);
    }
  }
  for (const ruleId of byRule.keys()) {
    if (ordered.some((r) => r.id === ruleId)) continue;
    const rule = config.rules.find((r) => r.id === ruleId);
    results.push(
      rule
        ? report(ruleId, 'no-subject', { changed: true, reason: `rule ${ruleId} no longer declares a subject in ${config.file}` })
        : report(ruleId, 'missing', { changed: true, reason: `rule ${ruleId} is no longer in ${config.file}` }),
    );
  }
  // Objects the deleted rows owned (`cascade:`) go before replay reports, as after a request.
  for (const name of queued) await drainCascades(runtime, name);
  return results;
}

/** One rule: scan, match digests, erase (or count) each person found again. */
async function replayRule(
  runtime: Runtime,
  rule: Rule,
  people: ReadonlyMap<string, string>,
  since: Date,
  options: ReplayErasuresOptions,
): Promise<ErasureReplay> {
  const { state } = runtime;
  const store = runtime.storeFor(rule);
  const context = runtime.contextFor(rule);
  // Raw values of people the ledger lists, in memory only; everyone else's are dropped as read.
  const found = new Map<string, string>();
  for await (const page of store.scanSubjects!(rule)) {
    for (const value of page) {
      const digest = subjectDigest(state.auditKey, value);
      if (people.has(digest)) found.set(value, digest);
    }
  }
  const result: ErasureReplay = { ruleId: rule.id, status: 'replayed', subjects: people.size, found: 0, rows: 0, held: [], left: 0, objects: {}, changed: false };
  for (const [value, digest] of found) {
    const requestId = people.get(digest)!;
    // Nothing to change (an anonymize rule's items already done): no pass, no audit entry.
    const due = await store.count(rule, ofSubject(value), context);
    if (due === 0) continue;
    result.found++;
    if (options.dryRun) {
      const heldBy = await holdOn(runtime, rule, digest);
      if (heldBy) result.held.push({ subject: digest, requestId, reason: heldBy });
      else result.rows += due;
      continue;
    }
    const pass = await applyToSubject(runtime, {
      rule,
      subject: value,
      digest,
      requestId,
      event: 'replayed',
      replay: { of: 'erasure', since: since.toISOString() },
      actor: options.actor,
    });
    result.rows += pass.rows;
    for (const [name, n] of Object.entries(pass.objects)) result.objects[name] = (result.objects[name] ?? 0) + n;
    if (pass.heldBy !== null) {
      result.held.push({ subject: digest, requestId, reason: pass.heldBy });
      continue;
    }
    result.left += await store.count(rule, ofSubject(value), context);
  }
  return result;
}

/** For a dry run: why the person would be kept in the rule now (a hold), or null. */
async function holdOn(runtime: Runtime, rule: Rule, digest: string): Promise<string | null> {
  const holds = await withTransaction(runtime.state.db, (tx) => holdsForRule(tx, runtime.state, rule, runtime.config.rules));
  return heldReason(holds, rule, digest);
}
