/**
 * What a column's type can hold, whatever the database. The rules of personal-column.ts
 * read this, never a database's own type names, so PostgreSQL and MariaDB/MySQL columns
 * are judged by one set of rules; each database's mapping is below.
 *
 * text: character strings and JSON; number; binary: byte strings (bytea, VARBINARY, BLOB);
 * date: dates, date-times, a year; boolean; ip: an address type (inet, INET6);
 * mac: a hardware address type; geo: geometric and spatial types; uuid; vector: an
 * embedding (pgvector, MariaDB's VECTOR); array: an array of anything but text (an array
 * of text is text); other: anything else (enums, intervals, times of day ...).
 */
export type ColumnKind = 'text' | 'number' | 'binary' | 'date' | 'boolean' | 'ip' | 'mac' | 'geo' | 'uuid' | 'vector' | 'array' | 'other';

/**
 * A PostgreSQL column's kind from its catalog facts: `pg_type.typname` and `typcategory`
 * (S string, N numeric, D date/time, B boolean, I network address, G geometric, U
 * user-defined such as bytea and json), of the element for an array of text and `A` for
 * an array of anything else (src/stores/postgres/catalog-columns.ts reads them so).
 */
export function postgresColumnKind(column: { typeName: string; typeCategory: string }): ColumnKind {
  const { typeName, typeCategory } = column;
  if (typeName === 'inet' || typeName === 'cidr') return 'ip';
  if (typeName === 'macaddr' || typeName === 'macaddr8') return 'mac';
  if (typeCategory === 'B') return 'boolean';
  if (typeCategory === 'S' || typeName === 'json' || typeName === 'jsonb') return 'text';
  if (typeCategory === 'N') return 'number';
  if (typeName === 'bytea') return 'binary';
  if (typeCategory === 'D') return 'date';
  if (typeCategory === 'G' || typeName === 'geometry' || typeName === 'geography') return 'geo';
  if (typeName === 'uuid') return 'uuid';
  if (typeName === 'vector') return 'vector';
  if (typeCategory === 'A') return 'array';
  return 'other';
}

const MYSQL_KINDS: Record<string, ColumnKind> = Object.fromEntries([
  ...['char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json'].map((t) => [t, 'text']),
  ...['tinyint', 'smallint', 'mediumint', 'int', 'bigint', 'decimal', 'float', 'double'].map((t) => [t, 'number']),
  ...['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob'].map((t) => [t, 'binary']),
  // YEAR is a date here: `birth_year YEAR` says when someone was born.
  ...['date', 'datetime', 'timestamp', 'year'].map((t) => [t, 'date']),
  ...['inet4', 'inet6'].map((t) => [t, 'ip']),
  ...['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'].map((t) => [t, 'geo']),
  ['uuid', 'uuid'],
  ['vector', 'vector'],
]);

/**
 * A MariaDB/MySQL column's kind from information_schema.COLUMNS: `DATA_TYPE` (lowercase)
 * and `COLUMN_TYPE`. Conservative where the server's types are ambiguous:
 * - `BOOLEAN` is `tinyint(1)` (and a flag is often `bit(1)`): a boolean, so
 *   `phone_verified tinyint(1)` is no phone number; any other tinyint is a number.
 * - binary strings are binary, whatever their length: `ip VARBINARY(16)` (what
 *   INET6_ATON returns) may hold an address, and the rules take binary for `ip`.
 * - ENUM and SET hold a fixed list of values: other. TIME is a time of day: other.
 * - MariaDB's JSON is a LONGTEXT (its DATA_TYPE says so); MySQL's is `json`: both text.
 * An unknown type is other: judged by nothing, so its name alone never makes it personal.
 */
export function mysqlColumnKind(column: { dataType: string; columnType: string }): ColumnKind {
  const dataType = column.dataType.toLowerCase();
  const columnType = column.columnType.toLowerCase();
  if (dataType === 'tinyint' && /^tinyint\(1\)/.test(columnType)) return 'boolean';
  if (dataType === 'bit') return /^bit\(1\)$/.test(columnType) ? 'boolean' : 'other';
  return MYSQL_KINDS[dataType] ?? 'other';
}
