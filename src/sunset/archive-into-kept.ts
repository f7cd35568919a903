import type { InventoryEntry } from '../policy/inventory.js';
import type { Rule } from '../policy/rule.js';
import { tablesOverlap, type PlaceContext } from './kept-overlap.js';

/** A `keptBecause` entry that keeps the table an archive rule moves its rows into. */
export interface ArchiveKept {
  /** The archive table as the rule writes it (`shop.orders_archive`). */
  table: string;
  /** `inventory[3]` */
  keptBy: string;
  keptBecause: string;
}

/**
 * The kept inventory entries an `action: archive` rule's `archiveTable` could be (compared
 * as kept places are: by overlap, leaning to yes). A sunset does not archive: the rule
 * deletes its source rows as an erasure does, and the kept archive table is left as it is.
 * Someone reading "the archive is kept" could expect the rows to land there; the plan says
 * they do not. Empty for other rules.
 */
export function archiveIntoKept(rule: Rule, kept: readonly InventoryEntry[], ctx: PlaceContext): ArchiveKept[] {
  if (rule.action !== 'archive') return [];
  const archive = (rule.target as { archiveTable?: { schema: string | null; name: string } } | null)?.archiveTable;
  if (!archive || typeof archive !== 'object') return [];
  const table = archive.schema ? `${archive.schema}.${archive.name}` : archive.name;
  return kept
    .filter((e) => e.keptBecause !== null && e.place.kind === 'table' && tablesOverlap(e.store, e.place.table, rule.store, table, ctx))
    .map((e) => ({ table, keptBy: e.path, keptBecause: e.keptBecause! }));
}
