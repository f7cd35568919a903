import { auditKeyProblem } from '../audit/audit-key.js';
import { heldSubjects, holdReach, stoppingHold } from '../people/holds-in-force.js';
import { unsealSubject } from '../people/seal-subject.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { activeHolds, holdsInForceAt, type HoldRecord } from '../state/holds.js';

/** What the legal holds in force mean for one rule, as a report shows it. */
export interface RuleHolds {
  /** The hold that stops the whole rule (a hold on it, or a subject hold it cannot keep apart); null when none. */
  ruleHold: HoldRecord | null;
  /** Subject holds whose subjects' items the rule keeps. */
  subjectHolds: number;
  /**
   * Their subjects (raw ids, in memory only), for `exceptHeld`; null when some exist but
   * cannot be opened (no `RETENTION_AUDIT_KEY`, or another key than they were sealed
   * under): a figure then includes their items.
   */
  held: readonly string[] | null;
  /**
   * When each held subject's items are let go in this rule: the latest `until` of the holds
   * that keep it (null: held until released by hand). Null with `held`.
   */
  heldUntil: ReadonlyMap<string, Date | null> | null;
}

/**
 * The holds in force now, judged per rule as sweeps judge them (`stoppingHold`,
 * `holdReach`). Read without the holds lock: a report changes nothing, so it need not wait
 * for a `hold add` under way (a hold committed a moment later shows on the next report).
 */
export async function readRuleHolds(runtime: Runtime, at?: Date): Promise<(rule: Rule) => RuleHolds> {
  const { state, config } = runtime;
  // `at`: judged at that instant (forecast --now); else at the state database's clock.
  const holds = at === undefined ? await activeHolds(state.db.pool, state) : await holdsInForceAt(state.db.pool, state, at);
  const canOpen = auditKeyProblem(state.auditKey) === null;
  return (rule) => {
    const reaching = holds.filter((h) => holdReach(h, rule, config.rules) === 'subject');
    const subjectHolds = reaching.length;
    const held = subjectHolds === 0 ? [] : canOpen ? openHeld(() => heldSubjects(holds, state.auditKey, rule, config.rules)) : null;
    const heldUntil = held === null ? null : openHeld(() => untilBySubject(reaching, state.auditKey));
    return { ruleHold: stoppingHold(holds, rule, config.rules), subjectHolds, held, heldUntil: held === null ? null : heldUntil };
  };
}

/** Per held subject, the latest `until` of its holds (null when one has none). */
function untilBySubject(holds: readonly HoldRecord[], auditKey: Buffer | null): Map<string, Date | null> {
  const until = new Map<string, Date | null>();
  for (const hold of holds) {
    const subject = unsealSubject(auditKey, hold.subjectSealed!);
    const seen = until.get(subject);
    if (seen === null) continue;
    until.set(subject, hold.until === null ? null : seen === undefined || hold.until > seen ? hold.until : seen);
  }
  return until;
}

/** The held ids, or null when a sealed id does not open with this key: a report says so rather than failing. */
function openHeld<T>(open: () => T): T | null {
  try {
    return open();
  } catch {
    return null;
  }
}
