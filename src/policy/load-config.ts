import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, UserError, type ConfigProblem } from '../errors.js';
import type { Config } from './config.js';
import { configSchema, ruleSchema, type RawConfig, type RawRule } from './config-schema.js';
import { durationProblem, parseDuration } from './duration.js';
import { interpolate, type Origins } from './interpolate.js';
import { ruleDefinitionHash } from './rule-hash.js';
import type { FilterValue, Limits, Rule, Schedule, WhereFilter } from './rule.js';
import { zoneProblem } from './time-zone.js';
import { DECIMAL_NUMBER, unsafeStringProblems, whereNumberSources } from './yaml-values.js';
import cronParser from 'cron-parser';

/** Rows per batch when a delete rule does not say: one statement well under a second. */
export const DEFAULT_BATCH_SIZE = 20_000;
/**
 * The same for an anonymize rule: rewriting a row (new row version, index entries, HMAC)
 * costs several times deleting it, so half the rows keep its statements as short
 * (docs/benchmarks.md).
 */
export const DEFAULT_ANONYMIZE_BATCH_SIZE = 10_000;
/** How often a rule is swept when it does not say. */
export const DEFAULT_SCHEDULE = 'PT1H';
/** Sweeping more often than this buys nothing and loads the database. */
const MIN_SCHEDULE_MS = 60_000;

/**
 * Default blast radius: a sweep may change at most 20% of a table without confirmation
 * (a first sweep over years of backlog is exactly what a person should look at once).
 */
export const DEFAULT_LIMITS: Limits = { maxRowsPerRun: null, maxFraction: 0.2 };

export const DEFAULT_CONFIG_PATH = 'config/retention.yaml';

/** `--config`, else `$RETENTION_CONFIG`, else `config/retention.yaml`. */
export function resolveConfigPath(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.RETENTION_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** Alias expansions one config may make; real configs use a handful. */
const MAX_ALIAS_COUNT = 100;

/** Reads, interpolates and validates a config file; throws ConfigError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UserError(
      code === 'ENOENT'
        ? `config file not found: ${file} (set it with --config PATH or $RETENTION_CONFIG)`
        : `cannot read config file ${file}: ${(error as Error).message}`,
    );
  }
  return parseConfig(text, file, env);
}

/** Validates config text; `file` is used only in messages. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const doc = parseDocument(text, { uniqueKeys: true });
  const syntax = doc.errors[0];
  if (syntax) {
    // Only the first: later syntax errors are mostly echoes of it. The parser's message
    // ends "at line L, column C:" before a code excerpt; keep the position, drop the colon.
    throw new ConfigError(file, [{ path: '', message: `YAML syntax: ${syntax.message.split('\n')[0]!.replace(/:$/, '')}` }]);
  }
  const problems: ConfigProblem[] = [];
  const origins: Origins = new Map();
  let js: unknown;
  try {
    // Aliases are expanded here; the library refuses a file that expands too many
    // (an "alias bomb": a few lines that would take gigabytes).
    js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `YAML: ${(error as Error).message} (more than ${MAX_ALIAS_COUNT} alias expansions)` }]);
  }
  const raw = interpolate(js, env, problems, origins);
  problems.push(...unsafeStringProblems(raw));

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'the config must be a mapping with stores and rules' }]);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) problems.push(...zodProblems(parsed.error, raw));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);

  const config = parsed.data;
  const numbers = whereNumberSources(doc);
  const rules = config.rules.map((rule, i) => buildRule(rule, `rules[${i}]`, config, problems, numbers));
  problems.push(...crossChecks(config));
  if (problems.length > 0) throw new ConfigError(file, problems);

  return {
    file,
    hash: createHash('sha256').update(text).digest('hex'),
    timezone: config.timezone,
    redis: config.redis,
    state: config.state,
    stateSchema: config.stateSchema,
    queuePrefix: config.queuePrefix,
    stores: config.stores,
    rules,
    worker: config.worker,
    origins,
  };
}

function crossChecks(config: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const timezone = zoneProblem(config.timezone);
  if (timezone) problems.push({ path: 'timezone', message: timezone });
  for (const [name, store] of Object.entries(config.stores)) {
    const zone = 'anchorZone' in store && store.anchorZone !== undefined ? zoneProblem(store.anchorZone) : undefined;
    if (zone) problems.push({ path: `stores.${name}.anchorZone`, message: zone });
  }
  const seen = new Map<string, number>();
  config.rules.forEach((rule, i) => {
    const first = seen.get(rule.id);
    if (first !== undefined) problems.push({ path: `rules[${i}].id`, message: `${JSON.stringify(rule.id)} is already the id of rules[${first}]` });
    else seen.set(rule.id, i);
  });
  return problems;
}

function buildRule(raw: RawRule, path: string, config: RawConfig, problems: ConfigProblem[], numbers: ReadonlyMap<string, string>): Rule {
  const problem = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
  if (!(raw.store in config.stores)) {
    const known = Object.keys(config.stores);
    problem('store', `${JSON.stringify(raw.store)} is not a store (defined: ${known.length ? known.join(', ') : 'none'})`);
  }
  const kind = config.stores[raw.store]?.kind;
  if (kind === 'redis') {
    if (raw.keys === undefined) problem('keys', 'a rule on a redis store needs keys: the SCAN pattern of the keys to sweep, e.g. "session:*"');
    if (raw.table !== undefined) problem('table', 'a rule on a redis store sweeps keys, not a table: use keys');
    if (raw.action !== 'delete') problem('action', 'a rule on a redis store can only delete keys');
    if (raw.where !== undefined) problem('where', 'filters apply to PostgreSQL tables only');
    if (raw.anchorZone !== undefined) problem('anchorZone', 'anchorZone is for timestamp and date columns of PostgreSQL tables; a Redis anchor is an instant');
    if (raw.anchorUnit === undefined) {
      problem('anchorUnit', 'a rule on a redis store needs anchorUnit: how its anchor field is written (ms: epoch milliseconds, s: epoch seconds, iso: an ISO-8601 instant with offset)');
    }
  } else {
    if (raw.table === undefined) problem('table', 'is required: the table to sweep (name or schema.name)');
    if (raw.keys !== undefined) problem('keys', 'keys is for redis stores; this rule sweeps a table');
    const schema = raw.table?.includes('.') ? raw.table.slice(0, raw.table.indexOf('.')) : null;
    if (schema !== null && systemSchema(schema, config.stateSchema)) {
      problem('table', `${raw.table} is in ${schema}, ${schema === config.stateSchema ? "this config's own state schema (stateSchema)" : 'a PostgreSQL system schema'}; retention rules never sweep it`);
    }
    const zone = raw.anchorZone === undefined ? undefined : zoneProblem(raw.anchorZone);
    if (zone) problem('anchorZone', zone);
    if (raw.anchorUnit !== undefined) problem('anchorUnit', 'anchorUnit is for redis stores; a table\'s anchor column has a type of its own');
  }
  const anonymize = Object.entries(raw.anonymize ?? {}).map(([column, strategy]) => ({ column, strategy }));
  const key = raw.key;
  if (raw.action === 'anonymize' && anonymize.length === 0) {
    problem('anonymize', 'action is anonymize, so anonymize must map at least one column to a strategy, e.g. { email: hmac }');
  }
  if (raw.action === 'delete' && anonymize.length > 0) {
    problem('anonymize', 'only anonymize rules take an anonymize map; this rule deletes whole rows');
  }
  if (raw.cascades !== undefined && (kind === 'redis' || raw.action !== 'delete')) {
    problem('cascades', `cascades is for rules that delete rows of a PostgreSQL table; ${kind === 'redis' ? 'keys have no foreign keys' : 'an anonymize rule deletes nothing, so nothing cascades'}`);
  }
  for (const { column } of anonymize) {
    if (column === key) problem(`anonymize.${column}`, `cannot anonymize the key column ${column}: sweeps are chunked by it`);
    if (column === raw.anchor) problem(`anonymize.${column}`, `cannot anonymize the anchor column ${column}: expiry is computed from it`);
  }
  const rule: Omit<Rule, 'hash'> = {
    id: raw.id,
    source: raw.source ?? null,
    store: raw.store,
    table: raw.table === undefined ? { schema: null, name: raw.keys ?? '' } : splitTable(raw.table),
    keys: raw.keys ?? null,
    key,
    anchor: raw.anchor,
    anchorUnit: kind === 'redis' ? (raw.anchorUnit ?? null) : null,
    retain: raw.retain,
    action: raw.action,
    where: buildWhere(raw.where ?? {}, `${path}.where`, numbers, problems),
    subject: raw.subject ?? null,
    schedule: parseSchedule(raw.schedule ?? DEFAULT_SCHEDULE, config.timezone, (m) => problem('schedule', m)),
    anonymize,
    batchSize: raw.batchSize ?? (raw.action === 'anonymize' ? DEFAULT_ANONYMIZE_BATCH_SIZE : DEFAULT_BATCH_SIZE),
    timezone: config.timezone,
    anchorZone: kind === 'redis' ? null : anchorZoneOf(raw, config),
    limits: {
      maxRowsPerRun: raw.limits?.maxRowsPerRun !== undefined ? raw.limits.maxRowsPerRun : (config.limits?.maxRowsPerRun ?? DEFAULT_LIMITS.maxRowsPerRun),
      maxFraction: raw.limits?.maxFraction ?? config.limits?.maxFraction ?? DEFAULT_LIMITS.maxFraction,
    },
    ...(raw.cascades === 'allow' ? { cascades: 'allow' as const } : {}),
  };
  return { ...rule, hash: ruleDefinitionHash(rule, config.stores[raw.store]) };
}

function splitTable(table: string): Rule['table'] {
  const dot = table.indexOf('.');
  return dot === -1 ? { schema: null, name: table } : { schema: table.slice(0, dot), name: table.slice(dot + 1) };
}

/** The zone a PostgreSQL rule's `timestamp`/`date` anchors are read in: its own, its store's, else the config's. */
function anchorZoneOf(raw: RawRule, config: RawConfig): NonNullable<Rule['anchorZone']> {
  if (raw.anchorZone !== undefined) return { name: raw.anchorZone, from: 'rule' };
  const store = config.stores[raw.store];
  if (store && 'anchorZone' in store && store.anchorZone !== undefined) return { name: store.anchorZone, from: 'store' };
  return { name: config.timezone, from: 'timezone' };
}

/**
 * Schemas no rule may sweep: PostgreSQL's own (every `pg_*` schema, such as pg_catalog and
 * pg_toast, and information_schema) and the state schema holding the audit log.
 */
export function systemSchema(schema: string, stateSchema: string): boolean {
  return schema.startsWith('pg_') || schema === 'information_schema' || schema === stateSchema;
}

function buildWhere(
  where: NonNullable<RawRule['where']>,
  path: string,
  numbers: ReadonlyMap<string, string>,
  problems: ConfigProblem[],
): WhereFilter[] {
  const exact = (value: string | number | boolean, at: string): FilterValue => {
    if (typeof value === 'string') return { kind: 'string', text: value };
    if (typeof value === 'boolean') return { kind: 'boolean', text: String(value) };
    // The digits as written: a JavaScript number has already rounded 9007199254740993.
    const text = numbers.get(at);
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

/** `manual`, an ISO-8601 interval (`PT1H`), or a cron pattern (`0 3 * * *`, in the config's zone). */
export function parseSchedule(text: string, timezone: string, report: (message: string) => void): Schedule {
  if (text === 'manual') return { kind: 'manual' };
  if (text.startsWith('P')) {
    const problem = durationProblem(text);
    if (problem) {
      report(problem);
      return { kind: 'manual' };
    }
    const ms = parseDuration(text).as('milliseconds');
    if (ms < MIN_SCHEDULE_MS) report(`${JSON.stringify(text)} is shorter than one minute; sweep at most once a minute`);
    return { kind: 'every', iso: text, ms };
  }
  const fields = text.trim().split(/\s+/).length;
  try {
    if (fields < 5 || fields > 6) throw new Error('needs 5 or 6 fields');
    cronParser.parseExpression(text, { tz: IANAZone.isValidZone(timezone) ? timezone : 'UTC' });
  } catch (error) {
    report(`${JSON.stringify(text)} is not "manual", an ISO-8601 interval such as PT1H, or a cron pattern such as "0 3 * * *" (${(error as Error).message})`);
    return { kind: 'manual' };
  }
  return { kind: 'cron', pattern: text };
}

function zodProblems(error: z.ZodError, raw: unknown): ConfigProblem[] {
  return error.issues.map((issue) => {
    const path = formatPath(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeys(issue.path);
      return {
        path,
        message: issue.keys
          .map((k) => `unknown key ${JSON.stringify(k)}${suggest(k, allowed)}`)
          .join('; '),
      };
    }
    if (issue.code === 'invalid_key') {
      // zod reports a bad record key (a `where` or `anonymize` column) without the name.
      const key = issue.path[issue.path.length - 1];
      return { path, message: `${JSON.stringify(key)} is not a valid column name (letters, digits, _ and $, not starting with a digit)` };
    }
    if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined) {
      return { path, message: `is required` };
    }
    return { path, message: issue.message };
  });
}

function allowedKeys(path: readonly PropertyKey[]): string[] {
  if (path[0] === 'rules' && path.length === 2) return Object.keys(ruleSchema.shape);
  if (path.length === 0) return Object.keys(configSchema.shape);
  return [];
}

function suggest(key: string, allowed: string[]): string {
  const close = allowed.filter((a) => editDistance(a.toLowerCase(), key.toLowerCase()) <= 2);
  const list = close.length > 0 ? ` (did you mean ${close.map((c) => JSON.stringify(c)).join(' or ')}?)` : '';
  return allowed.length > 0 && !list ? ` (allowed: ${allowed.join(', ')})` : list;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const step of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[step];
  }
  return node;
}

/** `['rules', 2, 'retain']` -> `rules[2].retain`. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, step) => {
    if (typeof step === 'number') return `${out}[${step}]`;
    return out ? `${out}.${String(step)}` : String(step);
  }, '');
}
