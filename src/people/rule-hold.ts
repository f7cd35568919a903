import type { HoldRecord } from '../state/holds.js';

/**
 * Pure: the hold on the whole rule among `holds` (the oldest, as `activeHolds` orders them),
 * or null. Such a hold names the rule and no subject; a hold naming a subject and the rule
 * keeps only that subject's items.
 */
export function ruleHoldOf(holds: readonly HoldRecord[], ruleId: string): HoldRecord | null {
  return holds.find((h) => h.subjectDigest === null && h.ruleId === ruleId) ?? null;
}
