import { nameWords, personalCategory } from '../coverage/personal-column.js';

/** A column as `retention init` reads it from the catalog. */
export interface StarterColumn {
  name: string;
  /** `pg_type.typname` (the element's for an array). */
  typeName: string;
  /** `pg_type.typcategory`; `A` for an array of anything but text. */
  typeCategory: string;
  /** As PostgreSQL prints it, for the notes. */
  shownType: string;
  notNull: boolean;
}

/** The types an anchor column may have (what `check` accepts of a PostgreSQL anchor). */
const ANCHOR_TYPES = ['timestamptz', 'timestamp', 'date'];

/** Names that say when the row was made: the usual anchor of "kept N months after it was recorded". */
const CREATED_EXACT = new Set(['created_at', 'created', 'created_on', 'creation_date', 'creation_time', 'create_time', 'inserted_at', 'insert_time', 'date_created']);
/** Names of a moving date: an anchor that moves with every update postpones expiry forever. */
const MOVING_WORDS = ['updated', 'modified', 'changed', 'touched'];

/**
 * The columns of a table that can date its rows (timestamptz, timestamp or date, not an
 * array, not a birth date, which is personal data rather than an event), most plausible
 * anchor first:
 * 1. a name saying the row was created (`created_at`), then any name with `created` or
 *    `inserted` in it;
 * 2. any other date (`logged_in_at`, `paid_at`, `closed_at`);
 * 3. last, dates that move with every change (`updated_at`): anchored on one, a row that
 *    keeps being touched would never expire.
 * Within a tier: NOT NULL first (a NULL anchor never expires), then timestamptz (an instant)
 * before timestamp and date (wall-clock readings), then the table's column order.
 */
export function anchorCandidates(columns: readonly StarterColumn[]): StarterColumn[] {
  const usable = columns.filter((c) => c.typeCategory === 'D' && ANCHOR_TYPES.includes(c.typeName) && personalCategory(c) !== 'birth-date');
  return usable
    .map((column, order) => ({ column, order, rank: [tier(column.name), column.notNull ? 0 : 1, ANCHOR_TYPES.indexOf(column.typeName)] }))
    .sort((a, b) => compareRanks(a.rank, b.rank) || a.order - b.order)
    .map((c) => c.column);
}

function tier(name: string): number {
  const lower = name.toLowerCase();
  if (CREATED_EXACT.has(lower)) return 0;
  const words = nameWords(name);
  if (words.some((w) => w.startsWith('creat') || w === 'inserted')) return 1;
  if (words.some((w) => MOVING_WORDS.includes(w))) return 3;
  return 2;
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
