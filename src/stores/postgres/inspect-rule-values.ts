import { DateTime } from 'luxon';
import type { ConfigProblem } from '../../errors.js';
import { redactUrl } from '../../redact.js';
import type { FilterValue, SqlRule as Rule } from '../sql/sql-target.js';
import type { TableInfo } from './catalog.js';
import type { Database } from './connect.js';
import { ident, qualified, type Statement, type TableName } from './sql.js';

/**
 * The live checks of the values a PostgreSQL rule hands to SQL, beyond names and types of
 * columns: the time zone names PostgreSQL converts with, the `where` values it compares,
 * and the schema the table resolved to. Reads catalogs and runs statements that match no
 * row; changes nothing.
 */
export async function inspectRuleValues(database: Database, storeName: string, rule: Rule, path: string, table: TableInfo): Promise<ConfigProblem[]> {
  return [
    ...(await systemSchemaProblems(database, rule, path)),
    ...(await zoneProblems(database, storeName, rule, path, table)),
    ...(await filterProblems(database, rule, path, table)),
  ];
}

/** The schema a rule's table resolves to (search_path included); null when there is no such table. */
export async function resolvedSchema(database: Database, table: TableName): Promise<string | null> {
  const { rows } = await database.pool.query<{ schema: string }>(
    'SELECT n.nspname AS schema FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)',
    [qualified(table)],
  );
  return rows[0]?.schema ?? null;
}

/** PostgreSQL's own schemas: every `pg_*` (pg_catalog, pg_toast, temp schemas) and information_schema. */
const isSystemSchema = (schema: string) => schema.startsWith('pg_') || schema === 'information_schema';

async function systemSchemaProblems(database: Database, rule: Rule, path: string): Promise<ConfigProblem[]> {
  const schema = await resolvedSchema(database, rule.target.table);
  if (schema === null || !isSystemSchema(schema)) return [];
  return [{ path: `${path}.table`, message: `${rule.target.table.name} resolves to ${schema}.${rule.target.table.name}, a PostgreSQL system catalog; retention rules never sweep it` }];
}

// ---------------------------------------------------------------------------------------
// Time zones

/** Jan 1 and Jul 1 (winter and summer) of every year 1970-2040, epoch milliseconds. */
const SAMPLE_INSTANTS: readonly number[] = Array.from({ length: 2040 - 1970 + 1 }, (_, i) => [Date.UTC(1970 + i, 0, 1), Date.UTC(1970 + i, 6, 1)]).flat();

/** Verdicts per database and zone name: the same zone is checked once per process. */
const zoneVerdicts = new WeakMap<Database, Map<string, Promise<string | undefined>>>();

/**
 * The zones PostgreSQL itself converts with for this rule, each with the field it came
 * from: the anchor zone (for a `timestamp`/`date` anchor) and the config's zone (for
 * `truncate-date` of a timestamptz).
 */
function zonesUsed(storeName: string, rule: Rule, path: string, table: TableInfo): { zone: string; field: string }[] {
  const used: { zone: string; field: string }[] = [];
  const anchorType = table.columns.get(rule.target.anchor)?.baseType;
  if (rule.target.anchorZone && (anchorType === 'timestamp' || anchorType === 'date')) {
    const field = { rule: `${path}.anchorZone`, store: `stores.${storeName}.anchorZone`, timezone: 'timezone' }[rule.target.anchorZone.from];
    used.push({ zone: rule.target.anchorZone.name, field });
  }
  if (rule.anonymize.some((a) => a.strategy === 'truncate-date' && table.columns.get(a.column)?.baseType === 'timestamptz')) {
    used.push({ zone: rule.timezone, field: 'timezone' });
  }
  return used;
}

async function zoneProblems(database: Database, storeName: string, rule: Rule, path: string, table: TableInfo): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const anchor = table.columns.get(rule.target.anchor);
  if (anchor && (anchor.baseType === 'timestamp' || anchor.baseType === 'date') && rule.target.anchorZone?.from === 'timezone' && rule.timezone !== 'UTC') {
    problems.push({
      path: `${path}.anchorZone`,
      severity: 'warning',
      message:
        `column ${rule.target.anchor} is ${anchor.type} (wall-clock times without a zone) and is read in the config's timezone ${rule.timezone} by default; ` +
        `say which zone it is written in with anchorZone on the rule or on stores.${storeName} (e.g. anchorZone: UTC, or anchorZone: ${rule.timezone})`,
    });
  }
  for (const { zone, field } of zonesUsed(storeName, rule, path, table)) {
    let verdicts = zoneVerdicts.get(database);
    if (!verdicts) zoneVerdicts.set(database, (verdicts = new Map()));
    let verdict = verdicts.get(zone);
    if (!verdict) {
      verdict = compareZone(database, zone);
      verdict.catch(() => verdicts.delete(zone));
      verdicts.set(zone, verdict);
    }
    const message = await verdict;
    if (message && !problems.some((p) => p.path === field && p.message === message)) problems.push({ path: field, message });
  }
  return problems;
}

/** Why PostgreSQL may read `zone` differently than luxon, or undefined when both agree. */
async function compareZone(database: Database, zone: string): Promise<string | undefined> {
  const known = await database.pool.query<{ known: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS known', [zone]);
  if (!known.rows[0]!.known) {
    return `${JSON.stringify(zone)} is not in pg_timezone_names of ${redactUrl(database.url)}: PostgreSQL would read it another way than the planner does (write the zone's exact IANA name)`;
  }
  const { rows } = await database.pool.query<{ seconds: number }>(zoneOffsetsStatement(zone, SAMPLE_INSTANTS));
  for (const [i, at] of SAMPLE_INSTANTS.entries()) {
    const theirs = Math.round(rows[i]!.seconds / 60);
    const ours = DateTime.fromMillis(at, { zone }).offset;
    if (theirs !== ours) {
      return (
        `PostgreSQL and luxon disagree on ${zone}: at ${new Date(at).toISOString()} PostgreSQL gives UTC${formatOffset(theirs)}, luxon UTC${formatOffset(ours)} ` +
        '(their time zone databases differ); use a zone both read the same, or update one of them'
      );
    }
  }
  return undefined;
}

/** PostgreSQL's UTC offset of `zone` at each instant, in seconds, in the order given. */
export function zoneOffsetsStatement(zone: string, instants: readonly number[]): Statement {
  return {
    text: `SELECT extract(epoch FROM (s.t AT TIME ZONE $1::text) - (s.t AT TIME ZONE 'UTC'))::float8 AS seconds
             FROM unnest($2::timestamptz[]) WITH ORDINALITY AS s(t, i) ORDER BY s.i`,
    values: [zone, instants.map((ms) => new Date(ms).toISOString())],
  };
}

function formatOffset(minutes: number): string {
  const sign = minutes < 0 ? '-' : '+';
  const abs = Math.abs(minutes);
  return `${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------------------
// Filter values

interface FilterColumn {
  type: string;
  /** pg_type.typcategory of the column's base type: S string, N numeric, B boolean, E enum ... */
  category: string;
}

async function filterColumns(database: Database, rule: Rule): Promise<Map<string, FilterColumn>> {
  const { rows } = await database.pool.query<{ name: string; type: string; category: string }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, coalesce(bt.typcategory, t.typcategory)::text AS category
       FROM pg_attribute a
       JOIN pg_type t ON t.oid = a.atttypid
       LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
      WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attname = ANY($2::text[])`,
    [qualified(rule.target.table), rule.target.where.map((f) => f.column)],
  );
  return new Map(rows.map((r) => [r.name, { type: r.type, category: r.category }]));
}

/**
 * Each `where` value against its column's type: the YAML kind first (a number on a text
 * column compares as text, so `1.10` would have to be written "1.10"; booleans only with
 * boolean columns), then PostgreSQL itself reads the text as the column's type, exactly
 * as a sweep's comparison will (invalid input, out of range).
 */
async function filterProblems(database: Database, rule: Rule, path: string, table: TableInfo): Promise<ConfigProblem[]> {
  const compared = rule.target.where.flatMap((f) =>
    f.op === 'eq' ? [{ column: f.column, value: f.value, at: `${path}.where.${f.column}` }] : f.op === 'not-eq' ? [{ column: f.column, value: f.value, at: `${path}.where.${f.column}.not` }] : [],
  );
  if (compared.length === 0) return [];
  const columns = await filterColumns(database, rule);
  const problems: ConfigProblem[] = [];
  for (const { column, value, at } of compared) {
    const info = columns.get(column);
    if (!info || !table.columns.has(column)) continue; // a missing column is reported by the store's own inspect
    const kindProblem = kindMismatch(column, info, value);
    if (kindProblem) {
      problems.push({ path: at, message: kindProblem });
      continue;
    }
    try {
      await database.pool.query(filterProbeStatement(rule.target.table, column, value.text));
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      // Class 22: data exception (invalid input, out of range); 42883/42804: no such comparison.
      if (!code.startsWith('22') && code !== '42883' && code !== '42804') throw error;
      problems.push({ path: at, message: `${shown(value)} does not fit column ${column} (${info.type}): ${(error as Error).message}` });
    }
  }
  return problems;
}

function kindMismatch(column: string, info: FilterColumn, value: FilterValue): string | undefined {
  const textual = info.category === 'S' || info.category === 'E';
  if (info.category === 'B') {
    return value.kind === 'boolean' ? undefined : `column ${column} is ${info.type}; write true or false, unquoted (not ${shown(value)})`;
  }
  if (value.kind === 'boolean') {
    return `${value.text} is a boolean but column ${column} is ${info.type}${textual ? `; to compare text, quote it: "${value.text}"` : ''}`;
  }
  if (value.kind === 'number' && info.category !== 'N') {
    return `${value.text} is a number in YAML but column ${column} is ${info.type}; quote it to compare ${textual ? 'text' : 'values'} exactly as written: "${value.text}"`;
  }
  return undefined;
}

const shown = (value: FilterValue) => (value.kind === 'string' ? JSON.stringify(value.text) : value.text);

/**
 * The comparison a sweep makes, on no row: PostgreSQL reads the bound text with the
 * column's type when the statement is bound, so a value it cannot read fails here, not in
 * every batch.
 */
export function filterProbeStatement(table: TableName, column: string, text: string): Statement {
  return { text: `SELECT ${ident(column)} = $1 AS m FROM ${qualified(table)} LIMIT 0`, values: [text] };
}
