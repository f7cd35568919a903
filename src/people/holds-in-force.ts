import type { Rule } from '../policy/rule.js';
import { activeHolds, lockHoldsShared, type HoldRecord } from '../state/holds.js';
import type { SqlClient } from '../state/sql-client.js';
import type { StateDb } from '../state/state-db.js';
import { ruleHoldOf } from './rule-hold.js';
import { unsealSubject } from './seal-subject.js';

/** What the holds in force mean for one rule's change. */
export interface HoldsForRule {
  /** A hold on the whole rule: nothing of it may change. */
  ruleHold: HoldRecord | null;
  /** Subjects on hold in this rule (raw, in memory only), for `exceptSubjects`. */
  held: string[];
  /** Their digests, to tell a request's subject is held without unsealing it. */
  heldDigests: Set<string>;
}

/**
 * Reads the holds in force inside the caller's state transaction, after taking the holds
 * lock shared (`lockHoldsShared`): the caller changes its store before committing, so a
 * hold committed before this read is respected, and one being added waits for the commit.
 * A rule without a `subject` cannot tell whose its items are: a subject hold stops it
 * altogether when its deletes reach further (see `holdReach`), and does not reach it else.
 */
export async function holdsForRule(tx: SqlClient, state: StateDb, rule: Rule, rules: readonly Rule[] = [rule]): Promise<HoldsForRule> {
  await lockHoldsShared(tx, state);
  const holds = await activeHolds(tx, state);
  const ruleHold = stoppingHold(holds, rule, rules);
  const subjectHolds = holds.filter((h) => holdReach(h, rule, rules) === 'subject');
  return { ruleHold, held: heldSubjects(subjectHolds, state.auditKey, rule, rules), heldDigests: new Set(subjectHolds.map((h) => h.subjectDigest!)) };
}

/**
 * The subjects (raw ids, in memory only) whose items `holds` keep in `rule`: what a sweep
 * leaves out. Throws when a sealed id cannot be opened with `auditKey`. Read without the
 * holds lock, it is a measurement (the worker's lag metric), never a sweep's guard.
 */
export function heldSubjects(holds: readonly HoldRecord[], auditKey: Buffer | null, rule: Rule, rules: readonly Rule[]): string[] {
  const subjectHolds = holds.filter((h) => holdReach(h, rule, rules) === 'subject');
  return [...new Set(subjectHolds.map((h) => unsealSubject(auditKey, h.subjectSealed!)))];
}

/**
 * What `hold` keeps of `rule`: `rule`, all of it (a hold on this whole rule); `subject`, the
 * held subject's items (a subject hold on every rule, on this one, or on one this rule
 * `reaches`; a rule without a `subject` cannot tell whose its items are, so none); or null.
 * Sweeps read it through `holdsForRule`; `hold add` uses it to find what the new hold keeps.
 */
export function holdReach(hold: Pick<HoldRecord, 'subjectDigest' | 'ruleId'>, rule: Rule, rules: readonly Rule[]): 'rule' | 'subject' | null {
  if (hold.subjectDigest === null) return hold.ruleId === rule.id ? 'rule' : null;
  if (!(hold.ruleId === null || hold.ruleId === rule.id || reaches(rule, hold.ruleId, rules))) return null;
  if (rule.subject !== null) return 'subject';
  // No subject, so no held row can be told apart; if its deletes reach other tables
  // (`cascades: allow`) or files (`cascade:`), they could take the held person's with them.
  return deletesReachFurther(rule) ? 'rule' : null;
}

/**
 * The hold that stops the whole rule now: a hold on the rule, or a subject hold the rule
 * cannot keep apart (`holdReach` says `rule`); null when none. Sweeps, batches and erasure
 * steps all ask this, so no path stops where another would go on.
 */
export function stoppingHold(holds: readonly HoldRecord[], rule: Rule, rules: readonly Rule[]): HoldRecord | null {
  return ruleHoldOf(holds, rule.id) ?? holds.find((h) => holdReach(h, rule, rules) === 'rule') ?? null;
}

/**
 * A rule that deletes rows (a delete rule, or an archive rule, whose move deletes them from
 * its table) and whose deletes may change other tables (foreign keys it allows) or files it owns.
 */
function deletesReachFurther(rule: Rule): boolean {
  if (rule.action !== 'delete' && rule.action !== 'archive') return false;
  const target = (rule.target ?? {}) as { cascades?: string; cascade?: readonly unknown[] };
  return target.cascades === 'allow' || (target.cascade?.length ?? 0) > 0;
}

/**
 * Whether a subject hold scoped to rule `heldRuleId` must also stop `rule`: when `rule`
 * works on the same store (deleting a parent row there can cascade, through a foreign key,
 * into the held rule's rows) or queues objects into it (`cascade:` deletes the files of the
 * rows it deletes). Holding too much keeps data a little longer; holding too little
 * deletes what a court ordered kept.
 */
function reaches(rule: Rule, heldRuleId: string, rules: readonly Rule[]): boolean {
  const held = rules.find((r) => r.id === heldRuleId);
  if (!held) return false;
  if (held.store === rule.store) return true;
  const cascades = (rule.target as { cascade?: readonly { store: string }[] } | null)?.cascade ?? [];
  return cascades.some((c) => c.store === held.store);
}

/** "hold 12 (litigation: case 2026-17)": how a report names the hold that stopped something. */
export function describeHold(hold: HoldRecord): string {
  const on = hold.subjectDigest === null ? '' : ` on subject ${hold.subjectDigest.slice(0, 12)}, whose rows this rule's deletes could reach`;
  return `hold ${hold.id}${on} (${hold.reason}${hold.until ? `, until ${hold.until.toISOString()}` : ''})`;
}
