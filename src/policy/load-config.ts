import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { IANAZone } from 'luxon';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, UserError, type ConfigProblem } from '../errors.js';
import type { Config, StoreConfig } from './config.js';
import { commonRuleShape, configSchemaFor, type RawConfig, type RawRule } from './config-schema.js';
import { durationProblem, isZeroDuration, parseDuration } from './duration.js';
import { interpolate, type Origins } from './interpolate.js';
import { inventoryEntry, type InventoryEntry } from './inventory.js';
import { ruleDefinitionHash } from './rule-hash.js';
import { resolveRequestPolicy } from './request-policy.js';
import { queuePrefixProblem } from './redis-url.js';
import { SUBJECT_PLACEHOLDER, type Limits, type Rule, type Schedule } from './rule.js';
import type { CatalogKind, StoreKindCatalog } from './store-kind-catalog.js';
import { zoneProblem } from './time-zone.js';
import { numberSources, unsafeStringProblems } from './yaml-values.js';
import cronParser from 'cron-parser';

/** Rows per batch when a delete rule does not say: one statement well under a second. */
export const DEFAULT_BATCH_SIZE = 20_000;
/**
 * The same for an anonymize rule: rewriting a row (new row version, index entries, HMAC)
 * costs several times deleting it, so half the rows keep its statements as short
 * (docs/benchmarks.md). An archive rule writes each row again too (into its archive
 * table, with its index entries), so it takes the same.
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

/**
 * Reads, interpolates and validates a config file; throws ConfigError listing every
 * problem. `kinds` are the store kinds a config may use (the CLI passes the store
 * registry's `STORE_KINDS`): policy/ knows no store kind of its own.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv, kinds: StoreKindCatalog): Config {
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
  return parseConfig(text, file, env, kinds);
}

/** Validates config text; `file` is used only in messages. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv, kinds: StoreKindCatalog): Config {
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
  const catalog = new Catalog(kinds);
  const parsed = catalog.schema.safeParse(raw);
  if (!parsed.success) problems.push(...zodProblems(parsed.error, raw, '', catalog));
  const stores = parsed.success ? storeConfigs(parsed.data.stores, catalog, problems) : {};
  if (problems.length > 0 || !parsed.success) throw new ConfigError(file, problems);

  const config = parsed.data;
  const numbers = numberSources(doc);
  const rules = config.rules.map((rule, i) => buildRule(rule, `rules[${i}]`, config, stores, catalog, problems, numbers));
  problems.push(...crossChecks(config));
  const inventory = (config.inventory ?? []).map((entry, i) => inventoryEntry(entry, `inventory[${i}]`));
  problems.push(...inventoryProblems(inventory, stores, catalog));
  if (problems.length > 0) throw new ConfigError(file, problems);

  return {
    file,
    hash: createHash('sha256').update(text).digest('hex'),
    timezone: config.timezone,
    redis: config.redis,
    state: config.state,
    stateSchema: config.stateSchema,
    queuePrefix: config.queuePrefix,
    stores,
    rules,
    worker: config.worker,
    requests: resolveRequestPolicy(config.requests),
    inventory,
    origins,
  };
}

/**
 * An inventory entry names a store that exists, and a place that store's kind holds: a
 * table on a kind whose rules take `table:`, keys on one whose rules take `keys:`.
 */
function inventoryProblems(inventory: readonly InventoryEntry[], stores: Record<string, StoreConfig>, catalog: Catalog): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const entry of inventory) {
    const store = stores[entry.store];
    if (!store) {
      const known = Object.keys(stores);
      problems.push({ path: `${entry.path}.store`, message: `${JSON.stringify(entry.store)} is not a store (defined: ${known.length ? known.join(', ') : 'none'})` });
      continue;
    }
    const field = entry.place.kind;
    const ruleKey = field === 'root' ? null : field;
    const kind = catalog.get(store.kind);
    if (ruleKey !== null && kind && !kind.targetKeys.includes(ruleKey)) {
      const owners = catalog.ownersOf(ruleKey);
      problems.push({ path: `${entry.path}.${field}`, message: `${field} is for ${owners.join(' and ')} stores; store ${entry.store} is ${store.kind}` });
    }
  }
  return problems;
}

function crossChecks(config: RawConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const timezone = zoneProblem(config.timezone);
  if (timezone) problems.push({ path: 'timezone', message: timezone });
  const prefix = queuePrefixProblem(config.redis, config.queuePrefix);
  if (prefix) problems.push({ path: 'queuePrefix', message: prefix });
  const seen = new Map<string, number>();
  config.rules.forEach((rule, i) => {
    const first = seen.get(rule.id);
    if (first !== undefined) problems.push({ path: `rules[${i}].id`, message: `${JSON.stringify(rule.id)} is already the id of rules[${first}]` });
    else seen.set(rule.id, i);
  });
  return problems;
}

/** The store kinds a config may use, and the schema of a config that uses them. */
class Catalog {
  readonly #byName: ReadonlyMap<string, CatalogKind>;
  /** Every rule key some kind owns, in catalog order. */
  readonly targetKeys: readonly string[];
  readonly schema: ReturnType<typeof configSchemaFor>;

  constructor(kinds: StoreKindCatalog) {
    this.#byName = new Map(kinds.map((k) => [k.kind, k]));
    this.targetKeys = [...new Set(kinds.flatMap((k) => k.targetKeys))];
    this.schema = configSchemaFor(this.targetKeys);
  }

  get(name: string): CatalogKind | undefined {
    return this.#byName.get(name);
  }

  get names(): string[] {
    return [...this.#byName.keys()];
  }

  /** Every key a rule may have: the common ones, then the kinds'. */
  get ruleKeys(): string[] {
    return [...new Set([...Object.keys(commonRuleShape), ...this.targetKeys])];
  }

  /** The kinds that own a rule key, for "X is for redis stores". */
  ownersOf(key: string): string[] {
    return [...this.#byName.values()].filter((k) => k.targetKeys.includes(key)).map((k) => k.kind);
  }
}

/** Each `stores.NAME` checked by its kind's own schema; problems at `stores.NAME.field`. */
function storeConfigs(raw: RawConfig['stores'], catalog: Catalog, problems: ConfigProblem[]): Record<string, StoreConfig> {
  const out: Record<string, StoreConfig> = {};
  for (const [name, entry] of Object.entries(raw)) {
    const { kind: kindName, ...settings } = entry;
    const kind = catalog.get(kindName);
    if (!kind) {
      problems.push({ path: `stores.${name}.kind`, message: `${JSON.stringify(kindName)} is not a store kind (known: ${catalog.names.join(', ')})` });
      continue;
    }
    const parsed = kind.configSchema.safeParse(settings);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, settings, `stores.${name}`, catalog));
      continue;
    }
    out[name] = { ...(parsed.data as object), kind: kindName };
  }
  return out;
}

function buildRule(
  raw: RawRule,
  path: string,
  config: RawConfig,
  stores: Record<string, StoreConfig>,
  catalog: Catalog,
  problems: ConfigProblem[],
  numbers: ReadonlyMap<string, string>,
): Rule {
  const problem = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
  if (!(raw.store in config.stores)) {
    const known = Object.keys(config.stores);
    problem('store', `${JSON.stringify(raw.store)} is not a store (defined: ${known.length ? known.join(', ') : 'none'})`);
  }
  const storeConfig = stores[raw.store];
  const kind = storeConfig === undefined ? undefined : catalog.get(storeConfig.kind);
  const fields = raw as Record<string, unknown>;
  let target: unknown = {};
  let targetOk = false;
  if (kind && storeConfig) {
    // Keys another kind owns: a table on a Redis rule, keys on a PostgreSQL one.
    for (const key of catalog.targetKeys) {
      if (kind.targetKeys.includes(key) || fields[key] === undefined) continue;
      problem(key, kind.misplaced?.[key] ?? `${key} is for ${catalog.ownersOf(key).join(' and ')} stores; store ${raw.store} is ${kind.kind}`);
    }
    const own = Object.fromEntries(kind.targetKeys.filter((k) => fields[k] !== undefined).map((k) => [k, fields[k]]));
    const parsed = kind.targetSchema.safeParse(own);
    if (!parsed.success) {
      problems.push(...zodProblems(parsed.error, own, path, catalog, { kindMessages: true }));
    } else {
      const { kind: _kind, ...settings } = storeConfig;
      target = kind.resolveTarget
        ? kind.resolveTarget(parsed.data as never, {
            path,
            storeConfig: settings,
            timezone: config.timezone,
            numberSource: (at) => numbers.get(at),
            problems,
          })
        : parsed.data;
      targetOk = true;
    }
    if (!kind.capabilities.actions.includes(raw.action)) {
      problem('action', `a rule on a ${kind.kind} store can only ${kind.capabilities.actions.join(' or ')} (store ${raw.store})`);
    }
  }
  // Where the person is named: a written `subject:` (column, hash field) or a `{subject}`
  // placeholder in the target, never both; and only on a kind that can select by person.
  const placeholder = targetOk && kind?.subjectInTarget?.(target as never) === true;
  if (kind && (raw.subject !== undefined || placeholder)) {
    if (raw.subject !== undefined && placeholder) {
      problem('subject', `the ${SUBJECT_PLACEHOLDER} placeholder in the rule's ${kind.targetKeys.join('/')} already names the person; remove subject`);
    } else if (!kind.capabilities.subjects) {
      problem(placeholder ? kind.targetKeys[0]! : 'subject', `a ${kind.kind} store cannot select one person's data (store ${raw.store}), so erasure requests and holds could not reach this rule`);
    }
  }
  const anonymize = Object.entries(raw.anonymize ?? {}).map(([column, strategy]) => ({ column, strategy }));
  if (raw.action === 'anonymize' && anonymize.length === 0) {
    problem('anonymize', 'action is anonymize, so anonymize must map at least one column to a strategy, e.g. { email: hmac }');
  }
  if (raw.action !== 'anonymize' && anonymize.length > 0) {
    problem('anonymize', raw.action === 'delete' ? 'only anonymize rules take an anonymize map; this rule deletes whole rows' : 'only anonymize rules take an anonymize map');
  } else if (anonymize.length > 0 && kind && !kind.capabilities.anonymize && kind.capabilities.actions.includes('anonymize')) {
    problem('anonymize', `a ${kind.kind} store cannot rewrite fields`);
  }
  problems.push(...neverStoreProblems(raw, path));
  const rule: Omit<Rule, 'hash'> = {
    id: raw.id,
    source: raw.source ?? null,
    store: raw.store,
    kind: kind?.kind ?? '',
    retain: raw.retain,
    never: raw.never === true,
    action: raw.action,
    subject: raw.subject ?? (placeholder ? SUBJECT_PLACEHOLDER : null),
    schedule: parseSchedule(raw.schedule ?? DEFAULT_SCHEDULE, config.timezone, (m) => problem('schedule', m)),
    anonymize,
    batchSize: raw.batchSize ?? (raw.action === 'anonymize' || raw.action === 'archive' ? DEFAULT_ANONYMIZE_BATCH_SIZE : DEFAULT_BATCH_SIZE),
    timezone: config.timezone,
    limits: {
      maxRowsPerRun: raw.limits?.maxRowsPerRun !== undefined ? raw.limits.maxRowsPerRun : (config.limits?.maxRowsPerRun ?? DEFAULT_LIMITS.maxRowsPerRun),
      maxFraction: raw.limits?.maxFraction ?? config.limits?.maxFraction ?? DEFAULT_LIMITS.maxFraction,
    },
    target: target as Rule['target'],
  };
  const hashed: Rule = { ...rule, hash: ruleDefinitionHash(rule, storeConfig) };
  if (kind?.checkRule && storeConfig && targetOk) {
    const { kind: _kind, ...settings } = storeConfig;
    const storeKinds = Object.fromEntries(Object.entries(stores).map(([name, store]) => [name, store.kind]));
    problems.push(...kind.checkRule(hashed as never, settings as never, path, { stateSchema: config.stateSchema, timezone: config.timezone, stores: storeKinds }));
  }
  return hashed;
}

/**
 * A zero `retain` and `never: true` go together: a zero period anywhere else would delete
 * data the moment it is written, by a slip of the pen (`PT0S` for `PT0H`...), while a
 * never-store rule with a period would keep data a while and still be reported as "never
 * stored". And a never-store rule deletes or anonymizes: `expire` leaves the data in place
 * until a TTL fires, and `archive` keeps it, in another table.
 */
function neverStoreProblems(raw: RawRule, path: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const zero = isZeroDuration(raw.retain);
  if (raw.never === true) {
    if (!zero) {
      problems.push({ path: `${path}.retain`, message: `rule ${raw.id} says never: true (this data is never stored), so retain must be PT0S, not ${JSON.stringify(raw.retain)}` });
    }
    if (raw.action === 'expire') {
      problems.push({
        path: `${path}.action`,
        message: `rule ${raw.id} says never: true, which cannot expire: a TTL keeps the data until it fires; use delete, or anonymize the columns that hold it`,
      });
    }
    if (raw.action === 'archive') {
      problems.push({
        path: `${path}.action`,
        message: `rule ${raw.id} says never: true, which cannot archive: moving the data to another table keeps it stored; use delete, or anonymize the columns that hold it`,
      });
    }
  } else if (zero) {
    problems.push({
      path: `${path}.retain`,
      message: `${JSON.stringify(raw.retain)} is zero; a retention period must be positive (rule ${raw.id}). Use never: true with retain: PT0S if the promise is that this data is never stored`,
    });
  }
  return problems;
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

/**
 * Zod's issues as config problems, at `prefix` + the issue's path. `kindMessages`: the
 * schema is a store kind's, whose own messages say what a missing field is for.
 */
function zodProblems(error: z.ZodError, raw: unknown, prefix: string, catalog: Catalog, options: { kindMessages?: boolean } = {}): ConfigProblem[] {
  return error.issues.map((issue) => {
    const path = [prefix, formatPath(issue.path)].filter(Boolean).join(issue.path.length > 0 && typeof issue.path[0] === 'number' ? '' : '.');
    if (issue.code === 'unrecognized_keys') {
      const allowed = prefix === '' ? allowedKeys(issue.path, catalog) : [];
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
    if (issue.code === 'invalid_type' && valueAt(raw, issue.path) === undefined && !options.kindMessages) {
      return { path, message: `is required` };
    }
    return { path, message: issue.message };
  });
}

function allowedKeys(path: readonly PropertyKey[], catalog: Catalog): string[] {
  if (path[0] === 'rules' && path.length === 2) return catalog.ruleKeys;
  if (path.length === 0) return Object.keys(catalog.schema.shape);
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
