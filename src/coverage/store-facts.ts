/**
 * What the catalog of one inspected store says, as coverage needs it. Filled by the store
 * (src/stores/postgres/catalog-columns.ts) and handed in, so coverage stays pure.
 */
export interface StoreFacts {
  /** Each table the config names on this store (as written: `users`, `public.users`) -> the table it resolves to (`public.users`), or null when none exists. */
  resolved: ReadonlyMap<string, string | null>;
  columns: readonly CatalogColumnFacts[];
}

export interface CatalogColumnFacts {
  /** Resolved table: `public.users`. */
  table: string;
  column: string;
  typeName: string;
  typeCategory: string;
  /** The type as the database prints it, for the report. */
  shownType: string;
  /** In the schemas scanned for personal-data columns, not only read because the config names its table. */
  scanned: boolean;
}
