import { shownTable, type TableName } from '../sql/sql-target.js';
import type { Runner } from './connect.js';
import { integer, join, raw, sql, type Fragment } from './mysql-sql.js';
import { SYSTEM_DATABASES } from './system-databases.js';

/** One column of a table, as `retention coverage` reads it from information_schema. */
export interface MysqlCatalogColumn {
  /** The table, resolved: `database.table`. */
  table: string;
  column: string;
  /** `DATA_TYPE`, lowercase: `varchar`, `varbinary`, `inet6`. */
  dataType: string;
  /** `COLUMN_TYPE`, as the server prints it (`varchar(255)`, `tinyint(1)`), for messages. */
  shownType: string;
  /** In the database scanned for personal-data columns (the URL's), not only read because the config names the table. */
  scanned: boolean;
}

export interface MysqlCatalogFacts {
  /** Each table the config names (as written, `shownTable`) -> `database.table`, or null when none exists. */
  resolved: Map<string, string | null>;
  columns: MysqlCatalogColumn[];
}

/** The server's own databases, as a list of bound values (never scanned, never resolved). */
const systemList = (): Fragment => join([...SYSTEM_DATABASES].map((d) => sql`${d}`), ', ');

/** A named table's database: its own, else the session's (the URL's), as the store resolves it. */
const databaseOf = (table: TableName): Fragment => (table.schema === null ? raw('DATABASE()') : sql`${table.schema}`);

/**
 * Which of the named tables exist, one row per name in order: `database.table`, or NULL.
 * Names are bound values: looked up in information_schema, never run.
 */
export function resolveTablesStatement(names: readonly TableName[]): Fragment {
  if (names.length === 0) return raw('SELECT 0 AS i, NULL AS resolved FROM DUAL WHERE FALSE');
  const union = join(
    names.map(
      (n, i) => sql`(SELECT ${integer(i)} AS i, (SELECT CONCAT(TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.TABLES
                           WHERE TABLE_SCHEMA = ${databaseOf(n)} AND TABLE_NAME = ${n.name}
                             AND LOWER(TABLE_SCHEMA) NOT IN (${systemList()}) LIMIT 1) AS resolved)`,
    ),
    ' UNION ALL ',
  );
  return sql`${union} ORDER BY i`;
}

/**
 * Columns of the tables in scope: every base table (system-versioned ones included) of
 * the URL's database, plus the tables the config names wherever they are. The server's own
 * databases (mysql, information_schema, performance_schema, sys) are never read, even
 * when the URL names one. Views are left out of the scan: their rows live in the tables.
 */
export function catalogColumnsStatement(named: readonly TableName[]): Fragment {
  const scanned = sql`(t.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED'))`;
  const namedMatch = named.length === 0 ? raw('FALSE') : join(named.map((n) => sql`(t.TABLE_SCHEMA = ${databaseOf(n)} AND t.TABLE_NAME = ${n.name})`), ' OR ');
  return sql`SELECT CONCAT(c.TABLE_SCHEMA, '.', c.TABLE_NAME) AS \`table\`, c.COLUMN_NAME AS \`column\`,
                    LOWER(c.DATA_TYPE) AS dataType, c.COLUMN_TYPE AS shownType, ${scanned} AS scanned
               FROM information_schema.COLUMNS c
               JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
              WHERE LOWER(c.TABLE_SCHEMA) NOT IN (${systemList()}) AND (${scanned} OR ${namedMatch})
              ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION`;
}

/** Reads what coverage needs from one store's information_schema; changes nothing. */
export async function readMysqlCatalogFacts(db: Runner, named: readonly TableName[]): Promise<MysqlCatalogFacts> {
  const rows = await db.rows<{ i: number | string; resolved: string | null }>(resolveTablesStatement(named));
  const found = new Map(rows.map((r) => [Number(r.i), r.resolved]));
  const resolved = new Map<string, string | null>();
  named.forEach((table, i) => resolved.set(shownTable(table), found.get(i) ?? null));
  const columns = (await db.rows<Omit<MysqlCatalogColumn, 'scanned'> & { scanned: number | string }>(catalogColumnsStatement(named))).map((c) => ({
    ...c,
    scanned: Number(c.scanned) === 1,
  }));
  return { resolved, columns };
}
