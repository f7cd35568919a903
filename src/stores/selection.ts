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
  /**
   * A service sunset (`retention sunset`): every item the rule's target holds and its other
   * filters (`where`) select, whatever its age: a NULL, missing, malformed or implausible
   * anchor included, since the service that would judge it later is going away. A store
   * that cannot select that (a module store, which only ever sees expired ranges) refuses
   * it with `UnsupportedSelection`; it must never select less (only the judged items) or
   * more (items outside the target or the filters).
   */
  | { kind: 'all' }
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

export const everything = (): Selection => ({ kind: 'all' });

/**
 * A selection this store (or a path through one) cannot honour exactly. Thrown rather than
 * selecting more or less than asked; `retention sunset` reports such a rule as refused.
 */
export class UnsupportedSelection extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedSelection';
  }
}

/** The selection with `held` subjects excluded (none: the selection as it was). */
export function exceptHeld(selection: Selection, held: readonly string[]): Selection {
  if (held.length === 0) return selection;
  return { ...selection, exceptSubjects: [...new Set([...(selection.exceptSubjects ?? []), ...held])] };
}

/**
 * A selection taken apart for a store that builds one predicate from it: expired `ranges`
 * (null for a subject request or a sunset: age does not matter), the one `subject`
 * selected (null for a sweep or a sunset), and the `except` subjects. Both null is a
 * sunset's `all` (`selectsAll`): every item the rule's filters select. A subject that is
 * itself excepted selects nothing (`none`): a held person's request waits, and a store
 * must not be asked to decide.
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
  if (selection.kind === 'all') return { ranges: null, subject: null, except, none: false };
  return { ranges: null, subject: selection.value, except, none: except.includes(selection.value) };
}

/** Parts of an `all` selection (a sunset): no ranges and no subject, so no age and no person narrows it. */
export const selectsAll = (parts: Pick<SelectionParts, 'ranges' | 'subject'>): boolean => parts.ranges === null && parts.subject === null;

/**
 * The ranges of an `expired` selection with no held subjects; a store (or a path through
 * one) that cannot select by person refuses anything else here rather than guess.
 */
export function expiredRangesOf(selection: Selection): readonly AnchorRange[] {
  if (selection.exceptSubjects !== undefined && selection.exceptSubjects.length > 0) {
    throw new UnsupportedSelection('a selection excluding held subjects is not supported by this store');
  }
  if (selection.kind === 'expired') return selection.ranges;
  if (selection.kind === 'all') {
    throw new UnsupportedSelection('selection "all" (every item whatever its age, for a service sunset) is not supported by this store: it can only select expired items');
  }
  throw new UnsupportedSelection(`selection ${JSON.stringify(selection.kind)} is not supported by this store`);
}
