import type { RawInventoryEntry } from './config-schema.js';
import type { DataCategory } from './data-category.js';

export type { RawInventoryEntry };

/** A validated inventory entry, with where it was written for messages (`inventory[2]`). */
export interface InventoryEntry {
  path: string;
  store: string;
  /** Where the data is: a SQL table (as written), Redis keys, or a files/S3 root. */
  place: { kind: 'table'; table: string } | { kind: 'keys'; pattern: string } | { kind: 'root'; root: string };
  /** Column -> category; empty for entries without columns. */
  columns: Record<string, DataCategory>;
  categories: DataCategory[];
  keptBecause: string | null;
}

export function inventoryEntry(raw: RawInventoryEntry, path: string): InventoryEntry {
  const place: InventoryEntry['place'] =
    raw.table !== undefined ? { kind: 'table', table: raw.table } : raw.keys !== undefined ? { kind: 'keys', pattern: raw.keys } : { kind: 'root', root: raw.root ?? '' };
  return {
    path,
    store: raw.store,
    place,
    columns: (raw.columns ?? {}) as Record<string, DataCategory>,
    categories: (raw.categories ?? []) as DataCategory[],
    keptBecause: raw.keptBecause ?? null,
  };
}
