/** A table as written in the config: `schema.name`, or a bare `name` (schema null). */
export interface WrittenTableName {
  schema: string | null;
  name: string;
}

/** Splits a written table name at its first dot; pure, so policy, sunset and init share it with the stores. */
export function splitTable(table: string): WrittenTableName {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: null, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}
