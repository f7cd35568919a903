import type { ColumnCategory, ColumnInfo } from '../../anonymize/strategy.js';
import type { TableName } from '../sql/sql-target.js';
import type { Runner } from './connect.js';
import { sql } from './mysql-sql.js';

/** A column as MariaDB/MySQL's information_schema describes it. */
export interface MysqlColumn extends ColumnInfo {
  /** `DATA_TYPE`, lowercase: `bigint`, `varchar`, `datetime`, `inet6`. */
  dataType: string;
  /** `COLUMN_TYPE`, e.g. `bigint(20) unsigned`, `enum('a','b')`. */
  columnType: string;
  unsigned: boolean;
  /** For DECIMAL: declared digits and scale. */
  precision: number | null;
  scale: number | null;
  /** The column's character set (text columns), e.g. `utf8mb4`. */
  charset: string | null;
  /** Computed by the server: an UPDATE cannot set it. */
  generated: boolean;
}

export interface MysqlUniqueIndex {
  name: string;
  primary: boolean;
  columns: (string | null)[];
}

export interface MysqlForeignKey {
  name: string;
  /** `db.table` holding the key. */
  referencing: string;
  referenced: string;
  referencingColumns: string[];
  referencedColumns: string[];
  onDelete: string;
  onUpdate: string;
}

export interface MysqlTable {
  /** `db.table`, as the server resolved it. */
  resolvedName: string;
  database: string;
  /** BASE TABLE, VIEW, SYSTEM VIEW, SEQUENCE ... */
  tableType: string;
  engine: string | null;
  /** InnoDB's estimate (information_schema.TABLES.TABLE_ROWS); null when unknown. */
  estimatedRows: number | null;
  columns: Map<string, MysqlColumn>;
  uniqueIndexes: MysqlUniqueIndex[];
  /** Foreign keys of other tables (or this one) pointing at this table. */
  referencedBy: MysqlForeignKey[];
  /** Foreign keys of this table pointing elsewhere. */
  references: MysqlForeignKey[];
}

export const TEXT_DATA_TYPES = new Set(['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext']);
export const INTEGER_DATA_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'bigint']);
export const BINARY_DATA_TYPES = new Set(['binary', 'varbinary']);

function categoryOf(dataType: string): ColumnCategory {
  if (TEXT_DATA_TYPES.has(dataType)) return 'text';
  if (dataType === 'inet6' || dataType === 'inet4') return 'inet';
  if (dataType === 'date') return 'date';
  // DATETIME holds wall-clock readings (PostgreSQL's timestamp); TIMESTAMP holds instants.
  if (dataType === 'datetime') return 'timestamp';
  if (dataType === 'timestamp') return 'timestamptz';
  return 'other';
}

/**
 * Reads a table's columns, unique indexes and foreign keys from information_schema. The
 * names travel as bind values, so a hostile name in config is looked up, never executed.
 * Null when there is no such table (or the database is not named and the URL has none).
 */
export async function readTable(db: Runner, table: TableName): Promise<MysqlTable | null> {
  const database = table.schema === null ? sql`DATABASE()` : sql`${table.schema}`;
  const found = await db.rows<{ db: string; name: string; type: string; engine: string | null; estimate: string | number | null }>(
    sql`SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine, TABLE_ROWS AS estimate
          FROM information_schema.TABLES WHERE TABLE_SCHEMA = ${database} AND TABLE_NAME = ${table.name}`,
  );
  const t = found[0];
  if (!t) return null;
  const columns = await db.rows<{
    name: string; data_type: string; column_type: string; nullable: string; len: string | number | null;
    precision: string | number | null; scale: string | number | null; charset: string | null; extra: string | null; generated: string | null;
  }>(
    sql`SELECT COLUMN_NAME AS name, LOWER(DATA_TYPE) AS data_type, COLUMN_TYPE AS column_type, IS_NULLABLE AS nullable,
               CHARACTER_MAXIMUM_LENGTH AS len, NUMERIC_PRECISION AS \`precision\`, NUMERIC_SCALE AS scale,
               CHARACTER_SET_NAME AS charset, EXTRA AS extra, IS_GENERATED AS generated
          FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ${t.db} AND TABLE_NAME = ${t.name}
         ORDER BY ORDINAL_POSITION`,
  );
  const indexes = await db.rows<{ name: string; seq: string | number; column_name: string | null }>(
    sql`SELECT INDEX_NAME AS name, SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name
          FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ${t.db} AND TABLE_NAME = ${t.name} AND NON_UNIQUE = 0
         ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
  );
  const keys = await db.rows<{
    name: string; db: string; tbl: string; col: string; ref_db: string; ref_tbl: string; ref_col: string; on_delete: string; on_update: string;
  }>(
    sql`SELECT k.CONSTRAINT_NAME AS name, k.TABLE_SCHEMA AS db, k.TABLE_NAME AS tbl, k.COLUMN_NAME AS col,
               k.REFERENCED_TABLE_SCHEMA AS ref_db, k.REFERENCED_TABLE_NAME AS ref_tbl, k.REFERENCED_COLUMN_NAME AS ref_col,
               r.DELETE_RULE AS on_delete, r.UPDATE_RULE AS on_update
          FROM information_schema.KEY_COLUMN_USAGE k
          JOIN information_schema.REFERENTIAL_CONSTRAINTS r
            ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
         WHERE k.REFERENCED_TABLE_NAME IS NOT NULL
           AND ((k.TABLE_SCHEMA = ${t.db} AND k.TABLE_NAME = ${t.name}) OR (k.REFERENCED_TABLE_SCHEMA = ${t.db} AND k.REFERENCED_TABLE_NAME = ${t.name}))
         ORDER BY k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
  );
  const num = (v: string | number | null) => (v === null ? null : Number(v));
  const byIndex = new Map<string, (string | null)[]>();
  for (const i of indexes) byIndex.set(i.name, [...(byIndex.get(i.name) ?? []), i.column_name]);
  const byKey = new Map<string, MysqlForeignKey>();
  for (const k of keys) {
    const id = `${k.db}.${k.tbl}.${k.name}`;
    let fk = byKey.get(id);
    if (!fk) {
      fk = {
        name: k.name, referencing: `${k.db}.${k.tbl}`, referenced: `${k.ref_db}.${k.ref_tbl}`,
        referencingColumns: [], referencedColumns: [], onDelete: k.on_delete.toLowerCase(), onUpdate: k.on_update.toLowerCase(),
      };
      byKey.set(id, fk);
    }
    fk.referencingColumns.push(k.col);
    fk.referencedColumns.push(k.ref_col);
  }
  const resolvedName = `${t.db}.${t.name}`;
  const foreignKeys = [...byKey.values()];
  return {
    resolvedName,
    database: t.db,
    tableType: t.type,
    engine: t.engine,
    estimatedRows: num(t.estimate),
    columns: new Map(
      columns.map((c): [string, MysqlColumn] => [
        c.name,
        {
          name: c.name,
          type: c.column_type,
          baseType: c.data_type,
          category: categoryOf(c.data_type),
          nullable: c.nullable === 'YES',
          maxLength: TEXT_DATA_TYPES.has(c.data_type) ? num(c.len) : null,
          dataType: c.data_type,
          columnType: c.column_type,
          unsigned: /\bunsigned\b/i.test(c.column_type),
          precision: num(c.precision),
          scale: num(c.scale),
          charset: c.charset,
          generated: (c.generated !== null && c.generated !== 'NEVER') || /\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b/i.test(c.extra ?? ''),
        },
      ]),
    ),
    uniqueIndexes: [...byIndex.entries()].map(([name, cols]) => ({ name, primary: name === 'PRIMARY', columns: cols })),
    referencedBy: foreignKeys.filter((fk) => fk.referenced === resolvedName),
    references: foreignKeys.filter((fk) => fk.referencing === resolvedName),
  };
}

/** Columns usable as a batch key: alone in a unique index (or the primary key) and NOT NULL. */
export function batchKeyColumns(table: MysqlTable): string[] {
  const keys = new Set<string>();
  for (const index of table.uniqueIndexes) {
    const [column] = index.columns;
    if (index.columns.length !== 1 || column === null || column === undefined) continue;
    if (table.columns.get(column)?.nullable === false) keys.add(column);
  }
  return [...keys];
}
