import { mysqlColumnKind, postgresColumnKind, type ColumnKind } from './column-kind.js';

/**
 * What the catalog of one inspected store says, as coverage needs it, whatever the
 * database. Each store reads its own catalog (src/stores/postgres/catalog-columns.ts,
 * src/stores/mysql/catalog-columns.ts), one of the functions below turns it into this, and
 * it is handed in, so coverage stays pure and judges every database with the same rules.
 */
export interface StoreFacts {
  /** Each table the config names on this store (as written: `users`, `public.users`) -> the table it resolves to (`public.users`), or null when none exists. */
  resolved: ReadonlyMap<string, string | null>;
  columns: readonly CatalogColumnFacts[];
}

export interface CatalogColumnFacts {
  /** Resolved table: `public.users` (PostgreSQL), `app.users` (MariaDB/MySQL: database.table). */
  table: string;
  column: string;
  /** What its type can hold (column-kind.ts). */
  kind: ColumnKind;
  /** The type as the database prints it, for the report. */
  shownType: string;
  /** In the schemas scanned for personal-data columns, not only read because the config names its table. */
  scanned: boolean;
}

interface ReadColumn {
  table: string;
  column: string;
  shownType: string;
  scanned: boolean;
}

/** A PostgreSQL store's catalog facts, typed by `pg_type` names and categories. */
export function postgresStoreFacts(read: {
  resolved: ReadonlyMap<string, string | null>;
  columns: readonly (ReadColumn & { typeName: string; typeCategory: string })[];
}): StoreFacts {
  return {
    resolved: read.resolved,
    columns: read.columns.map((c) => ({ table: c.table, column: c.column, kind: postgresColumnKind(c), shownType: c.shownType, scanned: c.scanned })),
  };
}

/** A MariaDB/MySQL store's catalog facts, typed by information_schema's DATA_TYPE and COLUMN_TYPE (shown). */
export function mysqlStoreFacts(read: {
  resolved: ReadonlyMap<string, string | null>;
  columns: readonly (ReadColumn & { dataType: string })[];
}): StoreFacts {
  return {
    resolved: read.resolved,
    columns: read.columns.map((c) => ({ table: c.table, column: c.column, kind: mysqlColumnKind({ dataType: c.dataType, columnType: c.shownType }), shownType: c.shownType, scanned: c.scanned })),
  };
}
