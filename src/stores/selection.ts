import type { AnchorRange } from '../policy/expiry.js';

/**
 * Which of a rule's items a piece of work concerns. Stores translate a selection into
 * their own predicate; `plan` (count), partitioning and `run` (apply) get the same one,
 * so what plan shows is what run does.
 */
export type Selection = (
  /** A sweep: items whose anchor lies in one of the ranges (inclusive ms bounds). */
  | { kind: 'expired'; ranges: readonly AnchorRange[] }
  /** Room for subject requests (the people issue); no store accepts it yet. */
  | { kind: 'subject'; value: string }
) & {
  /**
   * Room for legal holds (the people issue): items of these subjects are never selected,
   * whatever else matches. No store accepts a non-empty list yet; each refuses it rather
   * than ignore it, so a hold can never be silently skipped.
   */
  exceptSubjects?: readonly string[];
};

export const expired = (ranges: readonly AnchorRange[]): Selection => ({ kind: 'expired', ranges });

/**
 * The ranges of an `expired` selection; a store that does not implement another kind
 * of selection yet refuses it here rather than guessing what it means.
 */
export function expiredRangesOf(selection: Selection): readonly AnchorRange[] {
  if (selection.exceptSubjects !== undefined && selection.exceptSubjects.length > 0) {
    throw new Error('a selection excluding held subjects is not supported by this store yet');
  }
  if (selection.kind === 'expired') return selection.ranges;
  throw new Error(`selection ${JSON.stringify(selection.kind)} is not supported by this store yet`);
}
