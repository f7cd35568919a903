import type { Rule } from '../../policy/rule.js';
import { selectionParts, type Selection, type SelectionParts } from '../selection.js';

/**
 * How the SQL kinds take a selection apart (shared by postgres and mysql): the subject and
 * held values are matched against the rule's `subject` column read as that column's type,
 * so a value the type cannot hold ("abc" for an integer column) names nobody. It is
 * dropped here, before any SQL is built: bound as the column's type it would fail the
 * statement (PostgreSQL), or be coerced into another value and match someone else
 * (MariaDB compares '1abc' = 1 as true, even in a DELETE in strict mode).
 */

/**
 * The values the rule's subject column must read (the subject selected and the held
 * ones), for the kind to check against the column's type. Throws for a rule without a
 * subject column asked to select or spare a person: a hold is never silently ignored.
 */
export function subjectValues(rule: Rule<unknown>, selection: Selection): string[] {
  const parts = selectionParts(selection);
  const values = [...(parts.subject === null ? [] : [parts.subject]), ...parts.except];
  if (values.length > 0 && rule.subject === null) {
    const asked = parts.subject !== null ? "select one person's rows" : `leave the rows of ${parts.except.length} held subject(s)`;
    throw new Error(`rule ${rule.id} declares no subject column, so it cannot ${asked}`);
  }
  return [...new Set(values)];
}

/**
 * The selection a SQL statement applies: `readable` says which values the subject column's
 * type can hold. An unreadable subject selects nothing (`none`); unreadable held values are
 * left out of `except` (no row can hold them).
 */
export function sqlSelection(rule: Rule<unknown>, selection: Selection, readable: (value: string) => boolean): SelectionParts {
  subjectValues(rule, selection);
  const parts = selectionParts(selection);
  const except = parts.except.filter(readable);
  const none = parts.none || (parts.subject !== null && !readable(parts.subject));
  return { ...parts, except, none };
}

/**
 * The rows the held subjects keep, as a selection: the same one without `except`, for
 * counting them where its rows belong to a held subject (`BatchResult.held`). Null when
 * nobody is held. A subject that is itself held (`none` with the subject in `except`: a
 * readable value stays in `except`) counts its own rows; an unreadable one has none.
 */
export function heldSelection(parts: SelectionParts): SelectionParts | null {
  if (parts.except.length === 0) return null;
  const subjectHeld = parts.subject !== null && parts.except.includes(parts.subject);
  return { ...parts, except: [], none: parts.none && !subjectHeld };
}

/** The rule's subject column; for code reached only with a subject or held subjects. */
export function subjectColumn(rule: Rule<unknown>): string {
  if (rule.subject === null) throw new Error(`rule ${rule.id} declares no subject column`);
  return rule.subject;
}

/** Distinct subject values a `scanSubjects` page holds. */
export const SUBJECT_PAGE_SIZE = 1000;
