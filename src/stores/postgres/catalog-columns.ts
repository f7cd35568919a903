import type pg from 'pg';
import { Params, qualified, type Statement, type TableName } from './sql.js';
import { shownTable } from '../sql/sql-target.js';

/** One column of a table, as `retention coverage` reads it from the catalog. */
export interface CatalogColumn {
  /** The table, resolved: `public.users`. */
  table: string;
  column: string;
  /** `pg_type.typname` of the column's type, or of its element for an array. */
  typeName: string;
  /** `pg_type.typcategory` of the same type (`S`, `N`, `D`, `I` ...); `A` for an array of anything but text. */
  typeCategory: string;
  /** The type as PostgreSQL prints it (`character varying(255)`), for messages. */
  shownType: string;
  /** Declared NOT NULL (`retention init` prefers such an anchor: a NULL anchor never expires). */
  notNull: boolean;
  /** In the schemas scanned for personal-data columns (not only read because the config names the table). */
  scanned: boolean;
  /** `pg_class.relkind`: `r` table, `p` partitioned table, `m` materialized view (not sweepable: `retention init` leaves it out). */
  relkind: string;
}

/** What the catalog of one PostgreSQL store says, for coverage. */
export interface CatalogFacts {
  /** Each table the config names (as written, `shownTable`) -> the table it resolves to, or null when none exists. */
  resolved: Map<string, string | null>;
  columns: CatalogColumn[];
}

/**
 * The tables `names` resolve to through the session's search_path. Names are quoted and
 * bound as values: to_regclass looks them up, never runs them.
 */
export function resolveTablesStatement(names: readonly TableName[]): Statement {
  const params = new Params();
  const list = params.add(names.map((n) => qualified(n)));
  return {
    text: `SELECT w.name, (SELECT format('%s.%s', n.nspname, c.relname)
                     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE c.oid = to_regclass(w.name)) AS resolved
             FROM unnest(${list}::text[]) WITH ORDINALITY AS w(name, i)
            ORDER BY w.i`,
    values: params.values,
  };
}

/**
 * Columns of the tables in scope: every table, partitioned table and materialized view of
 * a schema that is neither PostgreSQL's (`pg_*`, information_schema) nor the state schema
 * (only `schemas`, when given), plus the tables the config names wherever they are.
 * Partitions are left out: their parent is what rules name.
 */
export function catalogColumnsStatement(options: { stateSchema: string; schemas: readonly string[] | null; named: readonly TableName[] }): Statement {
  const params = new Params();
  const state = params.add(options.stateSchema);
  const schemas = options.schemas === null ? 'true' : `n.nspname = ANY(${params.add([...options.schemas])}::text[])`;
  const named = params.add(options.named.map((n) => qualified(n)));
  const scanned = `(c.relkind IN ('r', 'p', 'm') AND NOT c.relispartition
        AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND n.nspname <> ${state} AND ${schemas})`;
  return {
    text: `SELECT format('%s.%s', n.nspname, c.relname) AS "table", a.attname AS "column",
                  COALESCE(et.typname, t.typname)::text AS "typeName",
                  (CASE WHEN t.typcategory = 'A' AND et.typcategory <> 'S' THEN 'A' ELSE COALESCE(et.typcategory, t.typcategory) END)::text AS "typeCategory",
                  format_type(a.atttypid, a.atttypmod) AS "shownType",
                  a.attnotnull AS "notNull",
                  ${scanned} AS scanned,
                  c.relkind::text AS relkind
             FROM pg_attribute a
             JOIN pg_class c ON c.oid = a.attrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_type t ON t.oid = a.atttypid
             LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
            WHERE a.attnum > 0 AND NOT a.attisdropped
              AND (${scanned} OR c.oid IN (SELECT to_regclass(x) FROM unnest(${named}::text[]) AS x))
            ORDER BY 1, a.attnum`,
    values: params.values,
  };
}

/** Reads what coverage needs from one store's catalog; changes nothing. */
export async function readCatalogFacts(client: pg.Pool | pg.ClientBase, options: { stateSchema: string; schemas: readonly string[] | null; named: readonly TableName[] }): Promise<CatalogFacts> {
  const resolveStatement = resolveTablesStatement(options.named);
  const resolvedRows = (await client.query<{ name: string; resolved: string | null }>(resolveStatement.text, resolveStatement.values)).rows;
  const resolved = new Map<string, string | null>();
  options.named.forEach((table, i) => resolved.set(shownTable(table), resolvedRows[i]?.resolved ?? null));
  const columnsStatement = catalogColumnsStatement(options);
  const columns = (await client.query<CatalogColumn>(columnsStatement.text, columnsStatement.values)).rows;
  return { resolved, columns };
}
