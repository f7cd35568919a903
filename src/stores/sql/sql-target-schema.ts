import { z } from 'zod';
import type { ConfigProblem } from '../../errors.js';
import { IDENTIFIER, IDENTIFIER_HINT, identifier } from '../../policy/config-schema.js';
import type { TargetContext } from '../../policy/store-kind-catalog.js';
import { zoneProblem } from '../../policy/time-zone.js';
import { DECIMAL_NUMBER } from '../../policy/yaml-values.js';
import type { Action } from '../../policy/rule.js';
import type { FilterValue, SqlTarget, TableName, WhereFilter } from './sql-target.js';
import { parsePathTemplate, type ObjectCascade } from './object-cascade.js';

/**
 * The rule fields of a SQL table kind (PostgreSQL, MySQL), as written in the YAML, and
 * how they become a `SqlTarget`: shared by every SQL kind, so their rules read alike.
 */

const tableName = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: the table to sweep (name or schema.name)' : 'table must be a string') })
  .regex(/^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})`,
  });

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const whereValue = z.union([scalar, z.null(), z.strictObject({ not: z.union([scalar, z.null()]) })], {
  error: 'a filter is a value, null, {not: value} or {not: null}',
});

export const SQL_TARGET_KEYS = ['table', 'key', 'anchor', 'anchorZone', 'where', 'cascades', 'cascade'] as const;

export const sqlTargetSchema = z.strictObject({
  /** The table to sweep. */
  table: tableName,
  /** Primary key column. */
  key: identifier('key column').default('id'),
  anchor: identifier('anchor column'),
  /**
   * `timestamp`/`date` anchors: the zone their wall-clock times are written in. Default:
   * the store's anchorZone, else the config's timezone.
   */
  anchorZone: z.string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' }).optional(),
  where: z.record(z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }), whereValue).optional(),
  /**
   * Delete rules: `allow` lets deletes remove (or rewrite) rows of other tables through
   * ON DELETE CASCADE / SET NULL / SET DEFAULT foreign keys; they are then counted, limited
   * and audited per table. Without it such a rule is refused at `check`.
   */
  cascades: z.literal('allow', { error: (issue) => `${JSON.stringify(issue.input)} is not a cascades setting (the only one is allow)` }).optional(),
  /**
   * Delete rules: objects each row owns in a files or s3 store, by column template
   * (`[{ store: photos, path: "{file_path}" }]`); deleted with their rows, never before.
   */
  cascade: z
    .array(
      z.strictObject({
        store: z.string({ error: 'store is required: the files or s3 store holding the objects' }),
        path: z.string({ error: 'path is required: a column template naming the object, e.g. "{file_path}"' }),
      }),
      { error: 'cascade is a list of { store, path } entries, e.g. [{ store: photos, path: "{file_path}" }]' },
    )
    .min(1, { error: 'cascade must name at least one { store, path } entry (or be left out)' })
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
 * Static checks shared by SQL kinds: `cascades` only on delete rules, and neither the
 * key nor the anchor column anonymized.
 */
export function sqlRuleProblems(rule: { action: Action; anonymize: readonly { column: string }[]; target: SqlTarget }, path: string, engine: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
  const { key, anchor, cascades, cascade } = rule.target;
  for (const { column } of rule.anonymize) {
    if (column === key) problem(`anonymize.${column}`, `cannot anonymize the key column ${column}: sweeps are chunked by it`);
    if (column === anchor) problem(`anonymize.${column}`, `cannot anonymize the anchor column ${column}: expiry is computed from it`);
  }
  if (cascades !== undefined && rule.action !== 'delete') {
    problem('cascades', `cascades is for rules that delete rows of a ${engine} table; an anonymize rule deletes nothing, so nothing cascades`);
  }
  if (cascade !== undefined && rule.action !== 'delete') {
    problem('cascade', `cascade is for rules that delete rows of a ${engine} table: a row's files go when the row goes, and an anonymize rule deletes no row`);
  }
  return problems;
}

export function splitTable(table: string): TableName {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: null, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

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
