import type { Rule } from '../policy/rule.js';
import { activeHolds, lockHoldsShared, type HoldRecord } from '../state/holds.js';
import type { SqlClient } from '../state/sql-client.js';
import type { StateDb } from '../state/state-db.js';
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
 * A rule without a `subject` cannot tell whose its items are: subject holds do not reach
 * it (only a hold on the rule does).
 */
export async function holdsForRule(tx: SqlClient, state: StateDb, rule: Rule, rules: readonly Rule[] = [rule]): Promise<HoldsForRule> {
  await lockHoldsShared(tx, state);
  const holds = await activeHolds(tx, state);
  const ruleHold = holds.find((h) => holdReach(h, rule, rules) === 'rule') ?? null;
  const subjectHolds = holds.filter((h) => holdReach(h, rule, rules) === 'subject');
  const held = [...new Set(subjectHolds.map((h) => unsealSubject(state.auditKey, h.subjectSealed!)))];
  return { ruleHold, held, heldDigests: new Set(subjectHolds.map((h) => h.subjectDigest!)) };
}

/**
 * What `hold` keeps of `rule`: `rule`, all of it (a hold on this whole rule); `subject`, the
 * held subject's items (a subject hold on every rule, on this one, or on one this rule
 * `reaches`; a rule without a `subject` cannot tell whose its items are, so none); or null.
 * Sweeps read it through `holdsForRule`; `hold add` uses it to find what the new hold keeps.
 */
export function holdReach(hold: Pick<HoldRecord, 'subjectDigest' | 'ruleId'>, rule: Rule, rules: readonly Rule[]): 'rule' | 'subject' | null {
  if (hold.subjectDigest === null) return hold.ruleId === rule.id ? 'rule' : null;
  if (rule.subject === null) return null;
  return hold.ruleId === null || hold.ruleId === rule.id || reaches(rule, hold.ruleId, rules) ? 'subject' : null;
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
  return `hold ${hold.id} (${hold.reason}${hold.until ? `, until ${hold.until.toISOString()}` : ''})`;
}
