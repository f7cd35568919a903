import { DateTime } from 'luxon';
import pg from 'pg';

/** A row as a test writes it: column -> value; DateTime values go in as instants. */
export type Row = Record<string, unknown>;

const value = (v: unknown): unknown => (v instanceof DateTime ? v.toUTC().toISO() : v);

/**
 * Inserts `rows` into `table` (`schema.table`) in one statement, every value a bind
 * parameter and every identifier escaped. Every row must name the same columns.
 */
export async function insertRows(db: pg.Pool, table: string, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]!);
  const values: unknown[] = [];
  const tuples = rows.map((row, r) => {
    if (Object.keys(row).join() !== columns.join()) throw new Error(`insertRows ${table}: row ${r} names other columns than row 0`);
    return `(${columns.map((c) => `$${values.push(value(row[c]))}`).join(', ')})`;
  });
  const [schema, name] = table.split('.');
  const qualified = `${pg.escapeIdentifier(schema!)}.${pg.escapeIdentifier(name!)}`;
  await db.query(`INSERT INTO ${qualified} (${columns.map((c) => pg.escapeIdentifier(c)).join(', ')}) VALUES ${tuples.join(', ')}`, values);
}
