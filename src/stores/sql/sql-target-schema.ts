import { splitTable } from '../../policy/table-name.js';
import { z } from 'zod';
import type { ConfigProblem } from '../../errors.js';
import { IDENTIFIER, IDENTIFIER_HINT, identifier } from '../../policy/config-schema.js';
import type { TargetContext } from '../../policy/store-kind-catalog.js';
import { zoneProblem } from '../../policy/time-zone.js';
import { DECIMAL_NUMBER } from '../../policy/yaml-values.js';
import type { Action } from '../../policy/rule.js';
import { shownTable, type FilterValue, type SqlTarget, type TableName, type WhereFilter } from './sql-target.js';
import { parsePathTemplate, type ObjectCascade } from './object-cascade.js';

/**
 * The rule fields of a SQL table kind (PostgreSQL, MySQL), as written in the YAML, and
 * how they become a `SqlTarget`: shared by every SQL kind, so their rules read alike.
 */

const TABLE_NAME = /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/;

const tableName = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: the table to sweep (name or schema.name)' : 'table must be a string') })
  .regex(TABLE_NAME, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})`,
  });

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const whereValue = z.union([scalar, z.null(), z.strictObject({ not: z.union([scalar, z.null()]).describe('rows whose column is not this value, NULL included; { not: null }: rows whose column is not NULL') })], {
  error: 'a filter is a value, null, {not: value} or {not: null}',
});

export const SQL_TARGET_KEYS = ['table', 'key', 'anchor', 'anchorZone', 'where', 'cascades', 'cascade', 'archiveTable'] as const;

export const sqlTargetSchema = z.strictObject({
  /** The table to sweep. */
  table: tableName.describe('the table to sweep: name, or schema.name (PostgreSQL) / database.name (MySQL)'),
  /** Primary key column. */
  key: identifier('key column')
    .describe('the column sweeps are chunked by: alone in a primary key or unique index, and NOT NULL')
    .default('id'),
  anchor: identifier('anchor column').describe('the column the period counts from: timestamptz, timestamp or date (MySQL: TIMESTAMP, DATETIME or DATE); NULL never expires'),
  /**
   * `timestamp`/`date` anchors: the zone their wall-clock times are written in. Default:
   * the store's anchorZone, else the config's timezone.
   */
  anchorZone: z
    .string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' })
    .describe("timestamp/date anchors: the zone their wall-clock times are written in (default: the store's anchorZone, else timezone)")
    .optional(),
  where: z
    .record(z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }), whereValue)
    .describe('filters, column -> value, null, { not: value } or { not: null }; values are bound as the text written')
    .optional(),
  /**
   * Delete rules: `allow` lets deletes remove (or rewrite) rows of other tables through
   * ON DELETE CASCADE / SET NULL / SET DEFAULT foreign keys; they are then counted, limited
   * and audited per table. Without it such a rule is refused at `check`.
   */
  cascades: z
    .literal('allow', { error: (issue) => `${JSON.stringify(issue.input)} is not a cascades setting (the only one is allow)` })
    .describe('delete rules (PostgreSQL): allow deletes to remove or rewrite rows of other tables through ON DELETE CASCADE / SET NULL / SET DEFAULT foreign keys (counted, limited and audited); without it such a rule is refused')
    .optional(),
  /**
   * Delete rules: objects each row owns in a files or s3 store, by column template
   * (`[{ store: photos, path: "{file_path}" }]`); deleted with their rows, never before.
   */
  cascade: z
    .array(
      z.strictObject({
        store: z.string({ error: 'store is required: the files or s3 store holding the objects' }).describe('the files or s3 store holding the objects'),
        path: z
          .string({ error: 'path is required: a column template naming the object, e.g. "{file_path}"' })
          .describe('a column template naming the object: {column} placeholders with literal text around them, e.g. "photos/{file_path}"'),
      }),
      { error: 'cascade is a list of { store, path } entries, e.g. [{ store: photos, path: "{file_path}" }]' },
    )
    .min(1, { error: 'cascade must name at least one { store, path } entry (or be left out)' })
    .describe('delete rules (PostgreSQL): the files or objects each row owns, deleted with the row (never before it) through an outbox')
    .optional(),
  /**
   * Archive rules (PostgreSQL): the table (`schema.table`) expired rows are moved to, in
   * the same transaction as their delete; required with `action: archive`, refused otherwise.
   */
  archiveTable: z
    .string({ error: 'archiveTable must be a string: the table archived rows are moved to (name or schema.name)' })
    .regex(TABLE_NAME, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})` })
    .describe('archive rules (PostgreSQL): the table (schema.name, same database, same columns) expired rows are moved to, where a further rule expires them')
    .optional(),
});

export type ParsedSqlTarget = z.infer<typeof sqlTargetSchema>;

/** A store setting every SQL kind takes: the zone of its `timestamp`/`date` anchors. */
export const anchorZoneSetting = z
  .string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' })
  .superRefine((name, ctx) => {
    const problem = zoneProblem(name);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe("the zone its rules' timestamp/date anchor columns are written in (a rule's own anchorZone wins; default: timezone)")
  .optional();

/** The parsed fields, completed: the table split, the anchor zone resolved, filter values exact. */
export function resolveSqlTarget(parsed: ParsedSqlTarget, context: TargetContext): SqlTarget {
  const { path, problems } = context;
  const zone = parsed.anchorZone === undefined ? undefined : zoneProblem(parsed.anchorZone);
  if (zone) problems.push({ path: `${path}.anchorZone`, message: zone });
  const storeZone = (context.storeConfig as { anchorZone?: unknown }).anchorZone;
  return {
    table: splitTable(parsed.table),
    key: parsed.key,
    anchor: parsed.anchor,
    anchorZone:
      parsed.anchorZone !== undefined
        ? { name: parsed.anchorZone, from: 'rule' }
        : typeof storeZone === 'string'
          ? { name: storeZone, from: 'store' }
          : { name: context.timezone, from: 'timezone' },
    where: buildWhere(parsed.where ?? {}, `${path}.where`, context.numberSource, problems),
    ...(parsed.cascades === 'allow' ? { cascades: 'allow' as const } : {}),
    ...(parsed.cascade ? { cascade: objectCascades(parsed.cascade, `${path}.cascade`, problems) } : {}),
    ...(parsed.archiveTable !== undefined ? { archiveTable: splitTable(parsed.archiveTable) } : {}),
  };
}

/** `cascade:` entries with their templates parsed; a malformed template is a problem at its path. */
function objectCascades(entries: readonly { store: string; path: string }[], path: string, problems: ConfigProblem[]): ObjectCascade[] {
  return entries.map(({ store, path: template }, i) => {
    const parsed = parsePathTemplate(template);
    if ('problem' in parsed) {
      problems.push({ path: `${path}[${i}].path`, message: parsed.problem });
      return { store, path: template, parts: [] };
    }
    return { store, path: template, parts: parsed.parts };
  });
}

/**
 * Static checks shared by SQL kinds: `cascades` only on rules that delete rows (delete,
 * archive), `cascade:` only on delete rules, and neither the key nor the anchor column
 * anonymized.
 */
export function sqlRuleProblems(rule: { action: Action; anonymize: readonly { column: string }[]; target: SqlTarget }, path: string, engine: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
  const { key, anchor, cascades, cascade } = rule.target;
  for (const { column } of rule.anonymize) {
    if (column === key) problem(`anonymize.${column}`, `cannot anonymize the key column ${column}: sweeps are chunked by it`);
    if (column === anchor) problem(`anonymize.${column}`, `cannot anonymize the anchor column ${column}: expiry is computed from it`);
  }
  // An archive rule's DELETE removes rows from the table as a delete rule's does, so its
  // foreign keys cascade the same way (the children are deleted, not archived).
  if (cascades !== undefined && rule.action !== 'delete' && rule.action !== 'archive') {
    problem('cascades', `cascades is for rules that delete rows of a ${engine} table; an ${rule.action} rule deletes nothing, so nothing cascades`);
  }
  if (cascade !== undefined && rule.action === 'archive') {
    // The row lives on in the archive table, so the files it names are still its own.
    problem('cascade', `cascade is for rules that delete rows of a ${engine} table; an archive rule moves each row to its archive table, where it still names its files, so they must stay (let the archive table's own delete rule carry the cascade)`);
  } else if (cascade !== undefined && rule.action !== 'delete') {
    problem('cascade', `cascade is for rules that delete rows of a ${engine} table: a row's files go when the row goes, and an ${rule.action} rule deletes no row`);
  }
  return problems;
}

/**
 * Static checks of a kind that archives (PostgreSQL): `archiveTable` exactly on archive
 * rules, and not the rule's own table as written (`check` resolves both names too).
 */
export function archiveTableProblems(rule: { action: Action; target: SqlTarget }, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (message: string) => problems.push({ path: `${path}.archiveTable`, message });
  const { archiveTable, table } = rule.target;
  if (rule.action === 'archive' && archiveTable === undefined) {
    problem('action is archive, so archiveTable must name the table expired rows are moved to (schema.table, with the same columns)');
  }
  if (rule.action !== 'archive' && archiveTable !== undefined) {
    problem(`archiveTable is only for archive rules; this rule's action is ${rule.action}, which moves no row`);
  }
  if (rule.action === 'archive' && archiveTable !== undefined && sameName(archiveTable, table)) {
    problem(`${shownTable(archiveTable)} is the rule's own table; an archive rule moves rows to another table`);
  }
  return problems;
}

/** Written the same way (a bare name and a qualified one may still be one table: `check` resolves them). */
function sameName(a: TableName, b: TableName): boolean {
  return a.schema === b.schema && a.name === b.name;
}

export { splitTable };

function buildWhere(
  where: NonNullable<ParsedSqlTarget['where']>,
  path: string,
  numberSource: (path: string) => string | undefined,
  problems: ConfigProblem[],
): WhereFilter[] {
  const exact = (value: string | number | boolean, at: string): FilterValue => {
    if (typeof value === 'string') return { kind: 'string', text: value };
    if (typeof value === 'boolean') return { kind: 'boolean', text: String(value) };
    // The digits as written: a JavaScript number has already rounded 9007199254740993.
    const text = numberSource(at);
    if (text === undefined) {
      problems.push({ path: at, message: `cannot read the number ${value} exactly as written (through an alias or merge key?); write it in place, or quote it for a text column` });
    } else if (!DECIMAL_NUMBER.test(text)) {
      problems.push({ path: at, message: `${text} is not a plain decimal number; write it in decimal digits (e.g. 31, -2.5), or quote it for a text column` });
    }
    return { kind: 'number', text: text ?? String(value) };
  };
  return Object.entries(where).map(([column, value]): WhereFilter => {
    if (value === null) return { column, op: 'is-null' };
    if (typeof value === 'object') {
      return value.not === null ? { column, op: 'not-null' } : { column, op: 'not-eq', value: exact(value.not, `${path}.${column}.not`) };
    }
    return { column, op: 'eq', value: exact(value, `${path}.${column}`) };
  });
}
