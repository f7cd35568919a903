import type pg from 'pg';
import { Params, type Statement } from './sql.js';

/**
 * A column a rule can chunk its sweeps by (`key:`): alone in the table's primary key, or in a
 * unique index that is neither partial nor on an expression, and NOT NULL (a NULL key lies in
 * no batch's range). What `check` accepts as a key (structural-problems.ts), read for every
 * table at once, for `retention init`.
 */
export interface SingleColumnKey {
  /** `schema.table`, as catalog-columns.ts writes it. */
  table: string;
  column: string;
  primary: boolean;
}

/** The key candidates of the tables in `schemas` (every schema when null), primary keys first. */
export function singleColumnKeysStatement(schemas: readonly string[] | null): Statement {
  const params = new Params();
  const inSchemas = schemas === null ? 'true' : `n.nspname = ANY(${params.add([...schemas])}::text[])`;
  return {
    text: `SELECT format('%s.%s', n.nspname, c.relname) AS "table", a.attname AS "column", i.indisprimary AS "primary"
             FROM pg_index i
             JOIN pg_class c ON c.oid = i.indrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
            WHERE i.indisunique AND i.indnkeyatts = 1 AND i.indkey[0] <> 0 AND i.indpred IS NULL
              AND a.attnotnull AND NOT a.attisdropped AND ${inSchemas}
            ORDER BY 1, i.indisprimary DESC, a.attnum`,
    values: params.values,
  };
}

/** The key candidates, by table (the primary key first); reads the catalog only. */
export async function readSingleColumnKeys(client: pg.Pool | pg.ClientBase, schemas: readonly string[] | null): Promise<Map<string, string[]>> {
  const statement = singleColumnKeysStatement(schemas);
  const { rows } = await client.query<SingleColumnKey>(statement.text, statement.values);
  const keys = new Map<string, string[]>();
  for (const row of rows) keys.set(row.table, [...(keys.get(row.table) ?? []), row.column]);
  return keys;
}
