import { z } from 'zod';
import { durationProblem } from './duration.js';
import { redisUrlSchema } from './redis-url.js';
import { requestsSchema } from './requests-schema.js';
import { STRATEGY_NAMES } from '../anonymize/registry.js';
import { DATA_CATEGORIES, isDataCategory } from './data-category.js';

/**
 * The config file's shape, for the parts every store kind shares. Structure only:
 * cross-field checks (a rule naming a store that does not exist, duplicate ids) live in
 * `load-config.ts`, a kind's own fields in its folder under src/stores/, catalog checks in
 * the store. Every object is strict: a misspelt key must not silently disable a rule.
 */

/** Plain SQL identifiers only: letters, digits, `_` and `$`, not starting with a digit. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
export const IDENTIFIER_HINT = 'letters, digits, _ and $, not starting with a digit';
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export const identifier = (what: string) =>
  z.string({ error: (issue) => (issue.input === undefined ? 'is required' : `${what} must be a string`) }).regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid ${what} (${IDENTIFIER_HINT})` });

// `zero`: a rule's `retain` may be zero here; the loader then requires `never: true`
// beside it, and refuses it otherwise with a message pointing there (load-config.ts).
const isoDuration = (example: string, options: { zero?: 'allowed' } = {}) =>
  z.string({ error: `must be an ISO-8601 duration such as ${example}` }).superRefine((text, ctx) => {
    const problem = durationProblem(text, options);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Blast-radius limits: a sweep that would change more stops before touching anything and
 * waits for `retention run --rule ID --confirm TOKEN`.
 */
export const limitsSchema = z.strictObject({
  maxRowsPerRun: z
    .number({ error: 'maxRowsPerRun must be a whole number' })
    .int()
    .min(0)
    .nullable()
    .describe('a sweep changing more items than this is blocked until confirmed (rows cascaded and objects deleted through cascade: count too); null for none (default)')
    .optional(),
  maxFraction: z
    .number({ error: 'maxFraction must be a number between 0 and 1, e.g. 0.2 for 20% of the table' })
    .gt(0, { error: 'maxFraction must be above 0 (0 would block every sweep); use 1 for no fraction limit' })
    .max(1, { error: 'maxFraction must be at most 1 (100% of the table)' })
    .describe('a sweep changing more than this fraction of the table is blocked until confirmed, from 1,000 rows up (default 0.2); 1 for no fraction limit')
    .optional(),
});

/**
 * The fields every rule has, whatever its store's kind. The fields a kind owns (`table:`,
 * `keys:`, `path:`, `prefix:` ...) sit beside them in the YAML and are parsed by that
 * kind's target schema (`StoreKind.targetSchema`).
 */
export const commonRuleShape = {
  id: z
    .string({ error: 'id is required' })
    .regex(SLUG, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid rule id (lowercase letters, digits and -, at most 63)` })
    .describe('the rule\'s name: lowercase letters, digits and -, at most 63, unique in the config'),
  source: z.string().describe('where the promise comes from (the policy and its section); copied into every audit entry').optional(),
  store: z.string({ error: 'store is required: the name of an entry under stores' }).describe('the name of the entry under stores that holds the data; its kind says which other fields the rule takes'),
  retain: isoDuration('P6M', { zero: 'allowed' }).describe('how long an item is kept after its anchor, an ISO-8601 duration in whole numbers (P180D, P6M, P3Y, PT12H); at most 1000 years'),
  /** A never-store rule (face data): `retain: PT0S`, swept for anything present (src/policy/rule.ts). */
  never: z
    .boolean({ error: 'never must be true or false' })
    .describe('a never-store rule (data promised never to be kept, e.g. face data): with retain: PT0S, every sweep deletes or anonymizes whatever it finds and reports it as an incident')
    .optional(),
  action: z.enum(['delete', 'anonymize', 'expire', 'archive'], {
    error: (issue) => `${JSON.stringify(issue.input)} is not an action (delete, anonymize, expire or archive)`,
  }).describe("what is done to an expired item: delete it, anonymize its columns (anonymize:), expire it (a Redis TTL), or archive it (PostgreSQL: moved to archiveTable); the store's kind says which it can take"),
  subject: identifier('subject column')
    .describe('where the store names the person, for erasure requests and legal holds: a column (SQL) or a hash field (Redis)')
    .optional(),
  schedule: z.string().describe('when the rule is swept: an interval (PT1H, at least a minute), a 5- or 6-field cron in timezone ("0 3 * * *"), or manual (default PT1H)').optional(),
  anonymize: z
    .record(
      z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }),
      z
        .string()
        .refine((name) => STRATEGY_NAMES.includes(name), {
          error: (issue) => `${JSON.stringify(issue.input)} is not an anonymization strategy (valid: ${STRATEGY_NAMES.join(', ')})`,
        })
        // The refine above, as JSON Schema sees it (editors offer the names).
        .meta({ enum: [...STRATEGY_NAMES] }),
    )
    .describe(`action anonymize: column -> strategy (${STRATEGY_NAMES.join(', ')})`)
    .optional(),
  batchSize: z
    .number()
    .int()
    .min(100)
    .max(1_000_000)
    .describe('items per batch, one short transaction each (default 20000 for delete, 10000 for anonymize)')
    .optional(),
  limits: limitsSchema.describe("this rule's blast-radius limits, overriding the top-level ones field by field").optional(),
};

/**
 * A rule as the config schema sees it: the common fields, checked, and every key some
 * store kind owns, passed through for that kind to parse. Any other key is a misspelling,
 * reported with the closest allowed keys.
 */
export function ruleSchemaFor(targetKeys: readonly string[]) {
  const passthrough = Object.fromEntries(targetKeys.filter((k) => !(k in commonRuleShape)).map((k) => [k, z.unknown().optional()]));
  return z.strictObject({ ...commonRuleShape, ...passthrough });
}

const dataCategory = z
  .string({ error: 'a category must be a string' })
  .refine((c) => isDataCategory(c), {
    error: (issue) => `${JSON.stringify(issue.input)} is not a data category (valid: ${DATA_CATEGORIES.join(', ')})`,
  })
  // The refine above, as JSON Schema sees it (editors offer the names).
  .meta({ enum: [...DATA_CATEGORIES] });

const INVENTORY_TABLE = /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * One `inventory:` entry: where personal data lives and of which categories. Exactly one of
 * `table` (a SQL table, with `columns` mapping column -> category), `keys` (a Redis SCAN
 * pattern) or `root` (a directory or prefix of a files/S3 store). It is covered by a rule
 * on the same store and table/keys/root, or by `keptBecause`, a written reason to keep it.
 */
export const inventoryEntrySchema = z
  .strictObject({
    store: z
      .string({ error: (issue) => (issue.input === undefined ? 'is required: the name of an entry under stores' : 'store must be a string') })
      .describe('the name of the entry under stores holding the data'),
    table: z
      .string({ error: 'table must be a string' })
      .regex(INVENTORY_TABLE, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})` })
      .describe('a SQL table, name or schema.name (one of table, keys or root)')
      .optional(),
    columns: z
      .record(z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }), dataCategory, {
        error: 'columns maps column names to data categories, e.g. { email: email, last_ip: ip }',
      })
      .describe('table entries: column -> data category, e.g. { email: email, last_ip: ip }; without it the entry accounts for every column')
      .optional(),
    keys: z.string({ error: 'keys must be a string: a Redis key pattern such as session:*' }).min(1).describe('a Redis key pattern, e.g. session:* (one of table, keys or root)').optional(),
    root: z
      .string({ error: 'root must be a string: a directory or prefix of a files or s3 store' })
      .min(1)
      .describe('a directory or prefix of a files or s3 store (one of table, keys or root)')
      .optional(),
    categories: z
      .array(dataCategory, { error: 'categories is a list of data categories, e.g. [email, phone]' })
      .describe('the data categories held, for entries without columns (or in addition)')
      .optional(),
    keptBecause: z
      .string({ error: 'keptBecause must be a string: why this data is kept with no rule' })
      .trim()
      .min(1, { error: 'keptBecause must give a reason (or be left out)' })
      .describe('why this data is kept with no rule: an explicit, written exemption')
      .optional(),
  })
  .superRefine((entry, ctx) => {
    const where = (['table', 'keys', 'root'] as const).filter((k) => entry[k] !== undefined);
    if (where.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: where.length === 0 ? [] : [where[1]!],
        message: where.length === 0 ? 'an inventory entry names one of table, keys or root' : `an inventory entry names one of table, keys or root, not ${where.join(' and ')}`,
      });
    }
    if (entry.columns !== undefined && entry.table === undefined) {
      ctx.addIssue({ code: 'custom', path: ['columns'], message: 'columns is for table entries' });
    }
    if (Object.keys(entry.columns ?? {}).length === 0 && (entry.categories ?? []).length === 0) {
      ctx.addIssue({ code: 'custom', path: [], message: 'an inventory entry names its data categories: columns (for a table) or categories' });
    }
  });

/**
 * A store entry: its `kind` here; the rest is checked by that kind's own config schema
 * (`StoreKind.configSchema`), with problems at `stores.NAME.field`.
 */
const storeEntry = z.looseObject({ kind: z.string({ error: 'kind is required: the kind of store (postgres, redis, ...)' }) });

/** Where the worker serves /metrics, /healthz and /readyz (src/metrics/worker-http.ts): loopback unless the config says otherwise. */
export const DEFAULT_WORKER_HTTP = { host: '127.0.0.1', port: 9464 } as const;
/** An erasure request this many calendar days or fewer from its deadline is due soon (metrics, and a warning a day). */
export const DEFAULT_WORKER_ALERTS = { requestsDueWithinDays: 7 } as const;

/**
 * `worker.http`: `false` serves nothing; else a host (an address or name to bind; anything
 * but loopback exposes the endpoints to the network, so it must be written) and a TCP port
 * (0: any free port, logged at start).
 */
const PORT_PROBLEM = 'port must be a whole number from 0 to 65535 (0: any free port)';
const DAYS_PROBLEM = 'requestsDueWithinDays must be a whole number of days from 0 to 366';
const workerHttpSchema = z
  .union([
    z.literal(false),
    z.strictObject({
      host: z
        .string({ error: 'host must be a string, e.g. 127.0.0.1' })
        .regex(/^[A-Za-z0-9.:-]{1,253}$/, { error: (issue) => `${JSON.stringify(issue.input)} is not a host to listen on (an address such as 127.0.0.1, ::1, 0.0.0.0, or a host name)` })
        .describe('the address to listen on; anything but loopback exposes the endpoints to the network ($RETENTION_HTTP_HOST overrides it)')
        .default(DEFAULT_WORKER_HTTP.host),
      port: z
        .number({ error: PORT_PROBLEM })
        .int({ error: PORT_PROBLEM })
        .min(0, { error: PORT_PROBLEM })
        .max(65535, { error: PORT_PROBLEM })
        .describe('the TCP port, 0 for any free one (logged at start; $RETENTION_HTTP_PORT overrides it)')
        .default(DEFAULT_WORKER_HTTP.port),
    }),
  ], { error: 'http is false (no endpoints) or { host, port }, e.g. { host: 127.0.0.1, port: 9464 }' })
  .describe("where the worker serves /metrics, /healthz and /readyz: { host, port }, or false for none")
  .default({ ...DEFAULT_WORKER_HTTP });

const workerAlertsSchema = z
  .strictObject({
    requestsDueWithinDays: z
      .number({ error: DAYS_PROBLEM })
      .int({ error: DAYS_PROBLEM })
      .min(0, { error: DAYS_PROBLEM })
      .max(366, { error: DAYS_PROBLEM })
      .describe('an erasure request this many days or fewer from its deadline is due soon: a metric, and a warning a day')
      .default(DEFAULT_WORKER_ALERTS.requestsDueWithinDays),
  })
  .describe('what the worker warns of before a promise is broken')
  .default({ ...DEFAULT_WORKER_ALERTS });

/** The config file's top level, for the store kinds whose rule keys are `targetKeys`. */
export function configSchemaFor(targetKeys: readonly string[]) {
  return z.strictObject({
  timezone: z.string().describe('the zone of calendar arithmetic (anchor + retain) and cron schedules: UTC or an Area/Location name such as Europe/Berlin; abbreviations are refused').default('UTC'),
  redis: redisUrlSchema('redis').describe('the Redis of the queue: redis://, rediss:// (TLS) or redis+cluster://host:port,host:port; it must not evict keys (maxmemory-policy noeviction)'),
  state: z
    .string({ error: 'state is required (a postgres:// URL)' })
    .regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' })
    .describe("the PostgreSQL state database: audit log, sweeps, checkpoints, and the clock (its now())"),
  stateSchema: identifier('schema name').describe('the schema of our tables in the state database, created and migrated on first use').default('retention'),
  /** `{name}` (a hash tag) keeps every queue key in one slot, as a Redis Cluster requires. */
  queuePrefix: z
    .string()
    .regex(/^(\{[A-Za-z0-9_-]{1,64}\}|[A-Za-z0-9_-]{1,64})$/, { error: 'must be 1-64 letters, digits, _ or -, optionally in braces ({retention}, for a Redis Cluster)' })
    .describe('the BullMQ key prefix, so deployments can share one Redis; in braces ({retention}) for a Redis Cluster')
    .default('retention'),
  stores: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), storeEntry).describe('where data lives, by name: databases, Redis, directories, buckets, modules of your own'),
  rules: z.array(ruleSchemaFor(targetKeys)).describe('the retention promises, one rule each'),
  limits: limitsSchema.describe('default blast-radius limits for every rule').optional(),
  worker: z
    .strictObject({ concurrency: z.number().int().min(1).max(64).describe('batches one worker process runs at once').default(2), http: workerHttpSchema, alerts: workerAlertsSchema })
    .describe('the worker processes (retention worker)')
    .default({ concurrency: 2, http: DEFAULT_WORKER_HTTP, alerts: DEFAULT_WORKER_ALERTS }),
  /** Deadlines of people's requests; defaults in src/policy/request-policy.ts. */
  requests: requestsSchema.optional(),
  /** Where personal data lives, for `retention coverage` (src/policy/inventory.ts). */
  inventory: z
    .array(inventoryEntrySchema, { error: 'inventory is a list of entries such as { store: app, table: public.users, columns: { email: email } }' })
    .describe('where personal data lives, for retention coverage: each entry is covered by a rule on the same place, or by keptBecause')
    .optional(),
  });
}

export type RawConfig = z.infer<ReturnType<typeof configSchemaFor>>;
export type RawRule = z.infer<ReturnType<typeof ruleSchemaFor>>;
export type RawInventoryEntry = z.infer<typeof inventoryEntrySchema>;
