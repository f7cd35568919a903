import type pg from 'pg';
import type { ColumnInfo } from '../../anonymize/strategy.js';
import { qualified, type TableName } from './sql.js';

/** What the catalog says about a rule's table. */
export interface TableInfo {
  /** The table as PostgreSQL resolved it, e.g. `public.login_logs`. */
  resolvedName: string;
  relkind: string;
  columns: Map<string, ColumnInfo>;
  /** Columns that lead a unique single-column index (usable as a batch key). */
  uniqueKeys: Set<string>;
}

/**
 * Reads a table's columns and unique keys. Names travel as bind values (to_regclass of the
 * quoted name), so a hostile name in config is looked up, never executed.
 */
export async function readTable(client: pg.Pool | pg.ClientBase, table: TableName): Promise<TableInfo | null> {
  const found = await client.query<{ oid: number; name: string; relkind: string }>(
    `SELECT c.oid::int AS oid, format('%s.%s', n.nspname, c.relname) AS name, c.relkind::text AS relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1)`,
    [qualified(table)],
  );
  const rel = found.rows[0];
  if (!rel) return null;
  const columns = await client.query<{ name: string; type: string; base: string; nullable: boolean; len: number | null }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(bt.typname, t.typname)::text AS base, NOT a.attnotnull AS nullable,
            CASE WHEN coalesce(bt.typname, t.typname) IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS len
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [rel.oid],
  );
  const keys = await client.query<{ name: string }>(
    `SELECT a.attname AS name
       FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = $1 AND i.indisunique AND i.indnkeyatts = 1 AND i.indpred IS NULL`,
    [rel.oid],
  );
  return {
    resolvedName: rel.name,
    relkind: rel.relkind,
    columns: new Map(
      columns.rows.map((c) => [c.name, { name: c.name, type: c.type, baseType: c.base, nullable: c.nullable, maxLength: c.len }]),
    ),
    uniqueKeys: new Set(keys.rows.map((k) => k.name)),
  };
}
