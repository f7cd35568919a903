import type { AnchorRange } from '../policy/expiry.js';

/**
 * Which of a rule's items a piece of work concerns. Stores translate a selection into
 * their own predicate; `plan` (count), partitioning and `run` (apply) get the same one,
 * so what plan shows is what run does.
 */
export type Selection = (
  /** A sweep: items whose anchor lies in one of the ranges (inclusive ms bounds). */
  | { kind: 'expired'; ranges: readonly AnchorRange[] }
  /**
   * An erasure request: every item of one person, whatever its age, that the rule's other
   * filters (`where`) select. `value` is the raw identifier, matched exactly (a bind
   * parameter, an escaped pattern): an id holding `%`, `_`, `*` or `?` names only itself.
   * It lives in the worker's memory only, never in a job payload or the state database.
   */
  | { kind: 'subject'; value: string }
) & {
  /**
   * Legal holds: items of these subjects (raw identifiers, matched exactly as `value` is)
   * are never selected, whatever else matches. Only for rules that declare a `subject`;
   * a store that cannot tell whose an item is refuses a non-empty list rather than ignore
   * it, so a hold is never silently skipped.
   */
  exceptSubjects?: readonly string[];
};

export const expired = (ranges: readonly AnchorRange[]): Selection => ({ kind: 'expired', ranges });

export const ofSubject = (value: string): Selection => ({ kind: 'subject', value });

/** The selection with `held` subjects excluded (none: the selection as it was). */
export function exceptHeld(selection: Selection, held: readonly string[]): Selection {
  if (held.length === 0) return selection;
  return { ...selection, exceptSubjects: [...new Set([...(selection.exceptSubjects ?? []), ...held])] };
}

/**
 * A selection taken apart for a store that builds one predicate from it: expired `ranges`
 * (null for a subject request: age does not matter), the one `subject` selected (null for a
 * sweep), and the `except` subjects. A subject that is itself excepted selects nothing
 * (`none`): a held person's request waits, and a store must not be asked to decide.
 */
export interface SelectionParts {
  ranges: readonly AnchorRange[] | null;
  subject: string | null;
  except: readonly string[];
  none: boolean;
}

export function selectionParts(selection: Selection): SelectionParts {
  const except = selection.exceptSubjects ?? [];
  if (selection.kind === 'expired') return { ranges: selection.ranges, subject: null, except, none: false };
  return { ranges: null, subject: selection.value, except, none: except.includes(selection.value) };
}

/**
 * The ranges of an `expired` selection with no held subjects; a store (or a path through
 * one) that cannot select by person refuses anything else here rather than guess.
 */
export function expiredRangesOf(selection: Selection): readonly AnchorRange[] {
  if (selection.exceptSubjects !== undefined && selection.exceptSubjects.length > 0) {
    throw new Error('a selection excluding held subjects is not supported by this store');
  }
  if (selection.kind === 'expired') return selection.ranges;
  throw new Error(`selection ${JSON.stringify(selection.kind)} is not supported by this store`);
}
