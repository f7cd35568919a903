import type { SqlRule as Rule } from '../sql/sql-target.js';
import { batchKeyColumns, type TableInfo, type UniqueIndex } from './catalog.js';
import { removesRows } from './archive-statements.js';

/**
 * What in a table's structure would make a rule fail, or silently do less than it says,
 * found by `check` from the catalog before any sweep runs. Each problem is a field of the
 * rule (`key`, `table`, `anonymize.email`) and a message.
 */
export function structuralProblems(rule: Rule, table: TableInfo): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  const key = keyProblem(rule.target.key, table, rule.target.anchor);
  if (key) problems.push({ field: 'key', message: key });
  // An archive rule's move deletes the rows from this table: the same references block it.
  if (removesRows(rule)) {
    for (const message of deleteBlockers(table)) problems.push({ field: 'table', message });
  }
  for (const { column, strategy } of rule.anonymize) {
    if (!table.columns.has(column)) continue;
    for (const message of writeProblems(table, column, strategy)) problems.push({ field: `anonymize.${column}`, message });
  }
  return problems;
}

/**
 * Why `key` cannot chunk sweeps of the table, or undefined. A batch is the range
 * `after < key <= upTo` of one column: a NULL key lies in no range (its row would be
 * counted by `plan` and never swept) and a multi-column key cannot be ranged by one column.
 */
export function keyProblem(key: string, table: TableInfo, anchor?: string): string | undefined {
  if (!table.columns.has(key)) return undefined; // reported as a missing column
  const usable = batchKeyColumns(table);
  if (usable.includes(key)) return undefined;
  if (anchor !== undefined && partitionedKey(key, table, anchor)) return undefined;
  const usableText = `usable here: ${usable.join(', ') || 'none'}`;
  const unique = table.uniqueIndexes.some((i) => !i.partial && i.columns.length === 1 && i.columns[0] === key);
  if (unique) {
    return `column ${key} of ${table.resolvedName} allows NULL: a row whose ${key} is NULL lies in no batch's key range and would never be swept. Declare it NOT NULL or choose another key (${usableText})`;
  }
  const composite = table.uniqueIndexes.filter((i) => i.columns.length > 1 && !i.partial);
  const compositeText =
    composite.length === 0
      ? ''
      : `; ${composite.map(describeIndex).join(' and ')} ${composite.length === 1 ? 'spans' : 'span'} several columns and cannot be a batch key`;
  return `column ${key} of ${table.resolvedName} is not a primary key or unique column; sweeps are chunked by ranges of one column, unique and NOT NULL (${usableText})${compositeText}`;
}

/**
 * A partitioned table's unique keys must include its partition key, so its primary key is
 * typically `(id, anchor)`: `id` alone is then accepted as the batch key when it is NOT
 * NULL and a unique, non-partial index covers exactly it and the anchor (in either order).
 *
 * What that means: rows may share an id (with different anchors). A batch `after < id <=
 * upTo` takes all of them, so every row still lies in exactly one batch, but a batch can
 * hold more rows than `batchSize`: dense integer ranges (key-ranges.ts) assume one row per
 * key value, and on a table whose ids repeat across anchors a range of `batchSize` ids
 * holds `batchSize` times the rows per id. (A partitioned parent's own `reltuples` is -1
 * until the parent itself is analyzed, which autovacuum never does, so the span estimate
 * is read from its partitions, see `keySpanStatement`.) A row that fails is skipped by its
 * key (isolate-failing-rows.ts), which keeps every row of that id: more rows kept, the
 * safe direction.
 */
function partitionedKey(key: string, table: TableInfo, anchor: string): boolean {
  if (table.relkind !== 'p' || key === anchor || table.columns.get(key)?.nullable !== false) return false;
  return table.uniqueIndexes.some(
    (i) => !i.partial && i.columns.length === 2 && i.columns.includes(key) && i.columns.includes(anchor),
  );
}

/**
 * Foreign keys that make deleting a referenced row fail while a child row points at it
 * (ON DELETE NO ACTION or RESTRICT). CASCADE and SET NULL succeed and are reported as
 * cascades (cascades.ts), not here.
 */
export function deleteBlockers(table: TableInfo): string[] {
  return table.referencedBy
    .filter((fk) => fk.onDelete === 'no action' || fk.onDelete === 'restrict')
    .map(
      (fk) =>
        `${fk.referencing} references ${table.resolvedName} through foreign key ${fk.name} (${fk.referencingColumns.join(', ')}) with ON DELETE ${fk.onDelete.toUpperCase()}: deleting a row it still points at fails (and is skipped, kept). Delete the referencing rows first (a rule of their own), or change the constraint to ON DELETE CASCADE or SET NULL`,
    );
}

/** Strategies that write one value to many rows, or values that need not be unique. */
const COLLIDING: Record<string, string> = {
  redact: 'writes the same marker to every row',
  'truncate-ip': 'writes the same network for many addresses',
  'truncate-date': 'writes the same first of the month for many dates',
};

/** Strategies whose written value no referenced table holds. */
const NOT_REFERENCEABLE = new Set(['redact', 'hmac', 'truncate-ip', 'truncate-date']);

/** Why writing `strategy` to `column` fails for the table's structure (not its type, which the strategy checks). */
export function writeProblems(table: TableInfo, column: string, strategy: string): string[] {
  const problems: string[] = [];
  const computed = table.computed.get(column);
  if (computed) {
    problems.push(
      `column ${column} of ${table.resolvedName} is ${computed === 'generated' ? 'a generated column (computed from others)' : 'GENERATED ALWAYS AS IDENTITY'}; an UPDATE cannot set it. Anonymize the columns it is ${computed === 'generated' ? 'computed from' : 'linked to'} instead`,
    );
  }
  for (const index of table.uniqueIndexes) {
    if (!index.columns.includes(column)) continue;
    const collision = COLLIDING[strategy];
    if (collision) {
      problems.push(`column ${column} of ${table.resolvedName} is in ${describeIndex(index)}; "${strategy}" ${collision}, so rows would collide`);
    } else if (strategy === 'null' && index.nullsNotDistinct) {
      problems.push(`column ${column} of ${table.resolvedName} is in ${describeIndex(index)}, which is NULLS NOT DISTINCT; a second NULL would collide`);
    }
  }
  for (const fk of table.references) {
    if (!fk.referencingColumns.includes(column) || !NOT_REFERENCEABLE.has(strategy)) continue;
    problems.push(`column ${column} of ${table.resolvedName} is in foreign key ${fk.name} to ${fk.referenced}; the value "${strategy}" writes is not there, so the update would fail. Use "null" or anonymize ${fk.referenced} instead`);
  }
  for (const fk of table.referencedBy) {
    if (!fk.referencedColumns.includes(column) || !(fk.onUpdate === 'no action' || fk.onUpdate === 'restrict')) continue;
    problems.push(`column ${column} of ${table.resolvedName} is referenced by ${fk.referencing} through foreign key ${fk.name} with ON UPDATE ${fk.onUpdate.toUpperCase()}; changing it fails while a row points at it`);
  }
  return problems;
}

function describeIndex(index: UniqueIndex): string {
  const columns = index.columns.map((c) => c ?? '(expression)').join(', ');
  return index.primary ? `the primary key ${index.name} (${columns})` : `unique index ${index.name} (${columns})`;
}
