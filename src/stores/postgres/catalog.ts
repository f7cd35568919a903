import type pg from 'pg';
import type { ColumnCategory, ColumnInfo } from '../../anonymize/strategy.js';
import { qualified, type TableName } from './sql.js';

/** A unique index (or primary key) of a table, as `check` needs it. */
export interface UniqueIndex {
  name: string;
  primary: boolean;
  /** Key columns in order; null for an expression (`lower(email)`). INCLUDE columns are left out. */
  columns: (string | null)[];
  /** Has a WHERE clause: unique only among the rows it covers. */
  partial: boolean;
  /** NULLS NOT DISTINCT (PostgreSQL 15+): two NULLs collide too. */
  nullsNotDistinct: boolean;
}

/** What a foreign key does when the row it points at is deleted or its key changes. */
export type ReferentialAction = 'no action' | 'restrict' | 'cascade' | 'set null' | 'set default';

/** A foreign key between the table and another (or itself). */
export interface ForeignKey {
  name: string;
  /** The table holding the foreign key, resolved (`public.orders`). */
  referencing: string;
  /** The table it points at, resolved. */
  referenced: string;
  /** Columns of the referencing table, in order. */
  referencingColumns: string[];
  /** Columns of the referenced table, in order. */
  referencedColumns: string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

/** What the catalog says about a rule's table. */
export interface TableInfo {
  /** The table as PostgreSQL resolved it, e.g. `public.login_logs`. */
  resolvedName: string;
  relkind: string;
  columns: Map<string, ColumnInfo>;
  /** Every unique index, single- or multi-column, partial or not. */
  uniqueIndexes: UniqueIndex[];
  /** Foreign keys of this table pointing elsewhere (or at itself). */
  references: ForeignKey[];
  /** Foreign keys of other tables (or of this one) pointing at this table. */
  referencedBy: ForeignKey[];
  /** Columns PostgreSQL computes and an UPDATE cannot set: `GENERATED ... STORED` or `GENERATED ALWAYS AS IDENTITY`. */
  computed: Map<string, 'generated' | 'identity'>;
}

const ACTIONS: Record<string, ReferentialAction> = { a: 'no action', r: 'restrict', c: 'cascade', n: 'set null', d: 'set default' };

/**
 * Columns usable as a batch key: alone in a unique, non-partial index and NOT NULL. A
 * batch is a range of one column's values, so a NULL key lies in no batch (its row would
 * never be swept) and a multi-column key cannot be ranged by one column.
 */
export function batchKeyColumns(table: TableInfo): string[] {
  const keys = new Set<string>();
  for (const index of table.uniqueIndexes) {
    const [column] = index.columns;
    if (index.columns.length !== 1 || column === null || column === undefined || index.partial) continue;
    if (table.columns.get(column)?.nullable === false) keys.add(column);
  }
  return [...keys];
}

/**
 * Reads a table's columns, unique indexes and foreign keys. Names travel as bind values
 * (to_regclass of the quoted name), so a hostile name in config is looked up, never executed.
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
  const columns = await client.query<{ name: string; type: string; base: string; nullable: boolean; len: number | null; generated: string; identity: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            coalesce(bt.typname, t.typname)::text AS base, NOT a.attnotnull AS nullable,
            CASE WHEN coalesce(bt.typname, t.typname) IN ('varchar', 'bpchar') AND a.atttypmod > 4 THEN a.atttypmod - 4 END AS len,
            a.attgenerated::text AS generated, a.attidentity::text AS identity
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
      ORDER BY a.attnum`,
    [rel.oid],
  );
  // indnullsnotdistinct exists from PostgreSQL 15 on; read through to_jsonb so older servers answer too.
  const indexes = await client.query<{ name: string; primary: boolean; partial: boolean; nulls_not_distinct: boolean; columns: (string | null)[] }>(
    `SELECT ic.relname::text AS name, i.indisprimary AS primary, i.indpred IS NOT NULL AS partial,
            coalesce((to_jsonb(i) ->> 'indnullsnotdistinct')::boolean, false) AS nulls_not_distinct,
            array(SELECT a.attname::text
                    FROM unnest((i.indkey::int2[])[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord)
                    LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                   ORDER BY k.ord) AS columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
      WHERE i.indrelid = $1 AND i.indisunique
      ORDER BY i.indisprimary DESC, ic.relname`,
    [rel.oid],
  );
  // A foreign key to or from a partitioned table has a clone per partition; only the
  // constraint as declared is listed (a clone whose parent links the same table here).
  const keys = await client.query<{
    name: string; referencing: string; referenced: string; outgoing: boolean; incoming: boolean;
    on_delete: string; on_update: string; referencing_columns: string[]; referenced_columns: string[];
  }>(
    `SELECT con.conname::text AS name,
            format('%s.%s', rn.nspname, r.relname) AS referencing, format('%s.%s', fn.nspname, f.relname) AS referenced,
            con.conrelid = $1 AS outgoing, con.confrelid = $1 AS incoming,
            con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS referencing_columns,
            array(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS referenced_columns
       FROM pg_constraint con
       JOIN pg_class r ON r.oid = con.conrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
       JOIN pg_class f ON f.oid = con.confrelid JOIN pg_namespace fn ON fn.oid = f.relnamespace
      WHERE con.contype = 'f' AND (con.conrelid = $1 OR con.confrelid = $1)
        AND NOT EXISTS (SELECT 1 FROM pg_constraint p
                         WHERE p.oid = con.conparentid
                           AND ((con.conrelid = $1 AND p.conrelid = con.conrelid) OR (con.confrelid = $1 AND p.confrelid = con.confrelid)))
      ORDER BY con.conname`,
    [rel.oid],
  );
  const foreignKey = (k: (typeof keys.rows)[number]): ForeignKey => ({
    name: k.name,
    referencing: k.referencing,
    referenced: k.referenced,
    referencingColumns: k.referencing_columns,
    referencedColumns: k.referenced_columns,
    onDelete: ACTIONS[k.on_delete] ?? 'no action',
    onUpdate: ACTIONS[k.on_update] ?? 'no action',
  });
  const computed = new Map<string, 'generated' | 'identity'>();
  for (const c of columns.rows) {
    if (c.generated !== '') computed.set(c.name, 'generated');
    else if (c.identity === 'a') computed.set(c.name, 'identity');
  }
  return {
    resolvedName: rel.name,
    relkind: rel.relkind,
    columns: new Map(
      columns.rows.map((c) => [c.name, { name: c.name, type: c.type, baseType: c.base, category: columnCategory(c.base), nullable: c.nullable, maxLength: c.len }]),
    ),
    uniqueIndexes: indexes.rows.map((i) => ({
      name: i.name,
      primary: i.primary,
      columns: i.columns,
      partial: i.partial,
      nullsNotDistinct: i.nulls_not_distinct,
    })),
    references: keys.rows.filter((k) => k.outgoing).map(foreignKey),
    referencedBy: keys.rows.filter((k) => k.incoming).map(foreignKey),
    computed,
  };
}

/** PostgreSQL base types as anonymization strategies judge them (domains are read by their base). */
const CATEGORIES: Readonly<Record<string, ColumnCategory>> = {
  text: 'text',
  varchar: 'text',
  bpchar: 'text',
  citext: 'text',
  inet: 'inet',
  cidr: 'inet',
  date: 'date',
  timestamp: 'timestamp',
  timestamptz: 'timestamptz',
};

export function columnCategory(baseType: string): ColumnCategory {
  return CATEGORIES[baseType] ?? 'other';
}
