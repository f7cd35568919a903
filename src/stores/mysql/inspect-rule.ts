import { DateTime } from 'luxon';
import { MIN_HMAC_KEY_BYTES } from '../../anonymize/hmac.js';
import { getStrategy } from '../../anonymize/registry.js';
import type { AnonymizeContext } from '../../anonymize/strategy.js';
import type { ConfigProblem } from '../../errors.js';
import type { Rule } from '../../policy/rule.js';
import type { FilterValue } from '../sql/sql-target.js';
import { batchKeyColumns, type MysqlColumn, type MysqlTable } from './catalog.js';
import type { MysqlTarget } from './mysql-target.js';
import { fixedOffsetMinutes } from './render-anonymize.js';
import { isTextual, keyKind } from './statements.js';
import { isSystemDatabase } from './system-databases.js';

// Also read from here by mysql-store.ts, with this file's other checks.
export { isSystemDatabase };

const ANCHOR_TYPES = new Set(['datetime', 'timestamp', 'date']);

/** Longest text `truncate-ip` writes to a text column: `ffff:ffff:ffff::/48`. */
const IP_NETWORK_TEXT = 19;

/** Strategies that write one value to many rows: refused on a column of a unique index. */
const COLLIDING: Record<string, string> = {
  redact: 'writes the same marker to every row',
  'truncate-ip': 'writes the same network for many addresses',
  'truncate-date': 'writes the same first of the month for many dates',
};

/**
 * What is wrong with a rule against the table as the server describes it: every field
 * that names a column, the key's fitness for batches, the anchor's type, the filter
 * values, the anonymized columns, and what a DELETE would do to other tables. Reads the
 * catalog only. `table` is null when the table does not exist (reported by the caller).
 */
export function tableProblems(rule: Rule<MysqlTarget>, table: MysqlTable, context: AnonymizeContext): { field: string; message: string; severity?: 'warning' }[] {
  const problems: { field: string; message: string; severity?: 'warning' }[] = [];
  const at = (field: string, message: string, severity?: 'warning') => problems.push(severity ? { field, message, severity } : { field, message });
  const { target } = rule;
  const name = table.resolvedName;
  if (isSystemDatabase(table.database)) at('table', `${name} is in ${table.database}, a system database of the server; retention rules never sweep it`);
  if (table.tableType === 'SYSTEM VERSIONED') {
    at('table', `${name} is system-versioned: a DELETE or UPDATE keeps the old row in the table's history, so the data would not be gone`);
  } else if (table.tableType !== 'BASE TABLE') {
    at('table', `${name} is a ${table.tableType.toLowerCase()}, not a table; only tables can be swept`);
  }
  if (table.engine !== null && table.engine.toLowerCase() !== 'innodb') {
    at('table', `${name} uses the ${table.engine} engine, which has no transactions: a batch that fails half-way stays half done`, 'warning');
  }
  const column = (field: string, columnName: string): MysqlColumn | undefined => {
    const info = table.columns.get(columnName);
    if (!info) at(field, `column ${columnName} does not exist in ${name} (columns: ${[...table.columns.keys()].join(', ')})`);
    return info;
  };

  const key = column('key', target.key);
  if (key) {
    const usable = batchKeyColumns(table);
    if (!usable.includes(key.name)) {
      const unique = table.uniqueIndexes.some((i) => i.columns.length === 1 && i.columns[0] === key.name);
      at(
        'key',
        unique
          ? `column ${key.name} of ${name} allows NULL: a row whose ${key.name} is NULL lies in no batch's key range and would never be swept. Declare it NOT NULL or choose another key (usable here: ${usable.join(', ') || 'none'})`
          : `column ${key.name} of ${name} is not a primary key or unique column on its own; sweeps are chunked by ranges of one column, unique and NOT NULL (usable here: ${usable.join(', ') || 'none'})`,
      );
    } else if (keyKind(key) === null) {
      at('key', `column ${key.name} of ${name} is ${key.type}; a batch key must be an integer, DECIMAL, CHAR/VARCHAR or BINARY/VARBINARY column`);
    }
  }

  const anchor = column('anchor', target.anchor);
  if (anchor && !ANCHOR_TYPES.has(anchor.dataType)) {
    at('anchor', `column ${anchor.name} of ${name} is ${anchor.type}; an anchor must be DATETIME, TIMESTAMP or DATE`);
  }
  if (anchor && anchor.dataType !== 'timestamp' && ANCHOR_TYPES.has(anchor.dataType) && target.anchorZone.from === 'timezone' && rule.timezone !== 'UTC') {
    at(
      'anchorZone',
      `column ${anchor.name} is ${anchor.type} (wall-clock times without a zone) and is read in the config's timezone ${rule.timezone} by default; ` +
        `say which zone it is written in with anchorZone on the rule or on its store (e.g. anchorZone: UTC, or anchorZone: ${rule.timezone})`,
      'warning',
    );
  }

  for (const filter of target.where) {
    const info = column(`where.${filter.column}`, filter.column);
    if (!info || (filter.op !== 'eq' && filter.op !== 'not-eq')) continue;
    const field = filter.op === 'eq' ? `where.${filter.column}` : `where.${filter.column}.not`;
    const problem = filterValueProblem(info, filter.value);
    if (problem) at(field, problem);
  }
  const subject = rule.subject ? column('subject', rule.subject) : undefined;
  const subjectProblem = subject && subjectColumnProblem(subject);
  if (subjectProblem) at('subject', subjectProblem);

  for (const { column: columnName, strategy: strategyName } of rule.anonymize) {
    const field = `anonymize.${columnName}`;
    const info = column(field, columnName);
    if (!info) continue;
    const strategy = getStrategy(strategyName);
    const { transform } = strategy;
    // truncate-ip also takes addresses held as text (see render-anonymize.ts).
    const ipText = transform.kind === 'ip-network' && info.category === 'text';
    const typeProblem = ipText ? ipTextProblem(info) : strategy.problemWith(info);
    if (typeProblem) at(field, typeProblem);
    if (transform.kind === 'keyed-hash' && (context.hmacKey === null || context.hmacKey.length < MIN_HMAC_KEY_BYTES)) {
      at(field, `"hmac" needs the environment variable RETENTION_HMAC_KEY set to a secret of at least ${MIN_HMAC_KEY_BYTES} bytes`);
    }
    if (transform.kind === 'month-start' && info.dataType === 'timestamp' && fixedOffsetMinutes(context.timezone) === null) {
      at(
        field,
        `column ${columnName} is TIMESTAMP (an instant) and "${strategyName}" would truncate it in ${context.timezone}, whose offset changes; ` +
          'MariaDB has no time zone data of ours, so this is only done in a fixed-offset timezone (UTC, UTC+3). Use a DATETIME or DATE column, or a fixed-offset timezone',
      );
    }
    if (info.generated) at(field, `column ${columnName} of ${name} is a generated column (computed from others); an UPDATE cannot set it. Anonymize the columns it is computed from instead`);
    for (const index of table.uniqueIndexes) {
      if (!index.columns.includes(columnName)) continue;
      const collision = COLLIDING[strategyName];
      if (collision) at(field, `column ${columnName} of ${name} is in ${index.primary ? 'the primary key' : `unique index ${index.name}`}; "${strategyName}" ${collision}, so rows would collide`);
    }
    for (const fk of table.references) {
      if (fk.referencingColumns.includes(columnName) && strategyName !== 'null') {
        at(field, `column ${columnName} of ${name} is in foreign key ${fk.name} to ${fk.referenced}; the value "${strategyName}" writes is not there, so the update would fail. Use "null" or anonymize ${fk.referenced} instead`);
      }
    }
    for (const fk of table.referencedBy) {
      if (fk.referencedColumns.includes(columnName)) {
        at(field, `column ${columnName} of ${name} is referenced by ${fk.referencing} through foreign key ${fk.name} (ON UPDATE ${fk.onUpdate.toUpperCase()}); changing it would fail or change that table too`);
      }
    }
  }

  if (rule.action === 'delete') {
    for (const fk of table.referencedBy) {
      const effect =
        fk.onDelete === 'cascade'
          ? `deleting a row would also delete the rows of ${fk.referencing} pointing at it (ON DELETE CASCADE), which MySQL rules do not count, limit or audit`
          : fk.onDelete === 'set null' || fk.onDelete === 'set default'
            ? `deleting a row would rewrite the rows of ${fk.referencing} pointing at it (ON DELETE ${fk.onDelete.toUpperCase()}), which MySQL rules do not count or audit`
            : `deleting a row it still points at fails (ON DELETE ${fk.onDelete.toUpperCase()}), and the whole batch with it`;
      at('table', `${fk.referencing} references ${name} through foreign key ${fk.name} (${fk.referencingColumns.join(', ')}): ${effect}. Sweep the referencing rows with a rule of their own first, or drop the constraint`);
    }
  }
  return problems;
}

function ipTextProblem(column: MysqlColumn): string | undefined {
  if (column.maxLength !== null && column.maxLength < IP_NETWORK_TEXT) {
    return `column ${column.name} is ${column.type}, too short for a network such as ffff:ffff:ffff::/48 (${IP_NETWORK_TEXT} characters)`;
  }
  if (!column.nullable) {
    return `column ${column.name} is ${column.type} NOT NULL; "truncate-ip" on text writes NULL over a value that is not an IP address, so the column must allow NULL (or use an INET6 column)`;
  }
  return undefined;
}

const INTEGER_BITS: Record<string, bigint> = { tinyint: 8n, smallint: 16n, mediumint: 24n, int: 32n, bigint: 64n };
const INTEGER_TEXT = /^[-+]?\d+$/;
const DECIMAL_TEXT = /^[-+]?(\d*)(?:\.(\d*))?$/;
const FLOAT_TEXT = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;
const DATE_TEXT = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_TEXT = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$/;

/**
 * Why a `where` value cannot be compared exactly with the column, or undefined. Checked
 * here, against the type, because MariaDB casts a bad value with a warning, not an error
 * (`CAST('abc' AS SIGNED)` is 0), and rounds a DECIMAL with too many digits: either would
 * silently match other rows.
 */
export function filterValueProblem(column: MysqlColumn, value: FilterValue): string | undefined {
  const shown = value.kind === 'string' ? JSON.stringify(value.text) : value.text;
  const fits = `${shown} does not fit column ${column.name} (${column.type})`;
  const boolean = column.columnType.toLowerCase() === 'tinyint(1)' || column.dataType === 'boolean';
  if (value.kind === 'boolean') return boolean ? undefined : `${value.text} is a boolean but column ${column.name} is ${column.type}${isTextual(column) ? `; to compare text, quote it: "${value.text}"` : ''}`;
  if (isTextual(column)) {
    if (value.kind === 'number') return `${value.text} is a number in YAML but column ${column.name} is ${column.type}; quote it to compare text exactly as written: "${value.text}"`;
    if (column.maxLength !== null && [...value.text].length > column.maxLength) return `${fits}: longer than ${column.maxLength} characters, it never matches`;
    if (column.dataType === 'enum') {
      const members = enumMembers(column.columnType);
      if (!members.includes(value.text)) return `${fits}: not one of ${members.map((m) => JSON.stringify(m)).join(', ')}`;
    }
    return undefined;
  }
  const bits = INTEGER_BITS[column.dataType];
  if (bits !== undefined) {
    if (!INTEGER_TEXT.test(value.text)) return `${fits}: not a whole number`;
    const n = BigInt(value.text);
    const [lo, hi] = column.unsigned ? [0n, 2n ** bits - 1n] : [-(2n ** (bits - 1n)), 2n ** (bits - 1n) - 1n];
    return n < lo || n > hi ? `${fits}: out of range ${lo}..${hi}` : undefined;
  }
  switch (column.dataType) {
    case 'decimal': {
      const m = DECIMAL_TEXT.exec(value.text);
      if (!m || (m[1] === '' && (m[2] ?? '') === '')) return `${fits}: not a decimal number`;
      const whole = m[1]!.replace(/^0+/, '');
      const fraction = (m[2] ?? '').replace(/0+$/, '');
      const precision = column.precision ?? 65;
      const scale = column.scale ?? 0;
      if (fraction.length > scale) return `${fits}: more than ${scale} decimal places would be rounded`;
      if (whole.length > precision - scale) return `${fits}: out of range`;
      return undefined;
    }
    case 'float':
    case 'double':
      return FLOAT_TEXT.test(value.text) ? undefined : `${fits}: not a number`;
    case 'date':
      return DATE_TEXT.test(value.text) && DateTime.fromISO(value.text).isValid ? undefined : `${fits}: not a date (YYYY-MM-DD)`;
    case 'datetime':
    case 'timestamp':
      return DATETIME_TEXT.test(value.text) && DateTime.fromISO(value.text.replace(' ', 'T')).isValid ? undefined : `${fits}: not a date and time (YYYY-MM-DD HH:MM:SS)`;
    default:
      return `filters on ${column.type} columns are not supported; filter on a text, number or date column`;
  }
}

/** Types `filterValueProblem` can judge a value for, besides text and whole numbers. */
const COMPARABLE_TYPES = new Set(['decimal', 'float', 'double', 'date', 'datetime', 'timestamp']);

/**
 * Why a column cannot name people, or undefined: an erasure request's identifier is text,
 * compared with the column only where its type can be judged (`filterValueProblem`), so a
 * bad value never reaches a CAST that would make it someone else's. On any other type
 * (BINARY, UUID, JSON ...) every request would select nothing and look done.
 */
export function subjectColumnProblem(column: MysqlColumn): string | undefined {
  if (isTextual(column) || INTEGER_BITS[column.dataType] !== undefined || COMPARABLE_TYPES.has(column.dataType)) return undefined;
  return `column ${column.name} is ${column.type}; a subject column must hold text, whole numbers, decimals or dates, which a person's identifier is compared with exactly`;
}

/** The members of `enum('a','it''s')`. */
function enumMembers(columnType: string): string[] {
  const body = /^enum\((.*)\)$/is.exec(columnType)?.[1] ?? '';
  return [...body.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1]!.replace(/''/g, "'"));
}

/** Problems as `ConfigProblem`s under the rule's path. */
export function atPath(path: string, problems: { field: string; message: string; severity?: 'warning' }[]): ConfigProblem[] {
  return problems.map(({ field, message, severity }) => (severity ? { path: `${path}.${field}`, message, severity } : { path: `${path}.${field}`, message }));
}
