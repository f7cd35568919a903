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

const isoDuration = (example: string) =>
  z.string({ error: `must be an ISO-8601 duration such as ${example}` }).superRefine((text, ctx) => {
    const problem = durationProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/**
 * Blast-radius limits: a sweep that would change more stops before touching anything and
 * waits for `retention run --rule ID --confirm TOKEN`.
 */
export const limitsSchema = z.strictObject({
  maxRowsPerRun: z.number({ error: 'maxRowsPerRun must be a whole number' }).int().min(0).nullable().optional(),
  maxFraction: z
    .number({ error: 'maxFraction must be a number between 0 and 1, e.g. 0.2 for 20% of the table' })
    .gt(0, { error: 'maxFraction must be above 0 (0 would block every sweep); use 1 for no fraction limit' })
    .max(1, { error: 'maxFraction must be at most 1 (100% of the table)' })
    .optional(),
});

/**
 * The fields every rule has, whatever its store's kind. The fields a kind owns (`table:`,
 * `keys:`, `path:`, `prefix:` ...) sit beside them in the YAML and are parsed by that
 * kind's target schema (`StoreKind.targetSchema`).
 */
export const commonRuleShape = {
  id: z.string({ error: 'id is required' }).regex(SLUG, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid rule id (lowercase letters, digits and -, at most 63)` }),
  source: z.string().optional(),
  store: z.string({ error: 'store is required: the name of an entry under stores' }),
  retain: isoDuration('P6M'),
  action: z.enum(['delete', 'anonymize', 'expire'], {
    error: (issue) => `${JSON.stringify(issue.input)} is not an action (delete, anonymize or expire)`,
  }),
  subject: identifier('subject column').optional(),
  schedule: z.string().optional(),
  anonymize: z
    .record(
      z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }),
      z.string().refine((name) => STRATEGY_NAMES.includes(name), {
        error: (issue) => `${JSON.stringify(issue.input)} is not an anonymization strategy (valid: ${STRATEGY_NAMES.join(', ')})`,
      }),
    )
    .optional(),
  batchSize: z.number().int().min(100).max(1_000_000).optional(),
  limits: limitsSchema.optional(),
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

const dataCategory = z.string({ error: 'a category must be a string' }).refine((c) => isDataCategory(c), {
  error: (issue) => `${JSON.stringify(issue.input)} is not a data category (valid: ${DATA_CATEGORIES.join(', ')})`,
});

const INVENTORY_TABLE = /^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/;

/**
 * One `inventory:` entry: where personal data lives and of which categories. Exactly one of
 * `table` (a SQL table, with `columns` mapping column -> category), `keys` (a Redis SCAN
 * pattern) or `root` (a directory or prefix of a files/S3 store). It is covered by a rule
 * on the same store and table/keys/root, or by `keptBecause`, a written reason to keep it.
 */
export const inventoryEntrySchema = z
  .strictObject({
    store: z.string({ error: (issue) => (issue.input === undefined ? 'is required: the name of an entry under stores' : 'store must be a string') }),
    table: z
      .string({ error: 'table must be a string' })
      .regex(INVENTORY_TABLE, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})` })
      .optional(),
    columns: z
      .record(z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }), dataCategory, {
        error: 'columns maps column names to data categories, e.g. { email: email, last_ip: ip }',
      })
      .optional(),
    keys: z.string({ error: 'keys must be a string: a Redis key pattern such as session:*' }).min(1).optional(),
    root: z.string({ error: 'root must be a string: a directory or prefix of a files or s3 store' }).min(1).optional(),
    categories: z.array(dataCategory, { error: 'categories is a list of data categories, e.g. [email, phone]' }).optional(),
    keptBecause: z
      .string({ error: 'keptBecause must be a string: why this data is kept with no rule' })
      .trim()
      .min(1, { error: 'keptBecause must give a reason (or be left out)' })
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

/** The config file's top level, for the store kinds whose rule keys are `targetKeys`. */
export function configSchemaFor(targetKeys: readonly string[]) {
  return z.strictObject({
  timezone: z.string().default('UTC'),
  redis: redisUrlSchema('redis'),
  state: z.string({ error: 'state is required (a postgres:// URL)' }).regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  stateSchema: identifier('schema name').default('retention'),
  /** `{name}` (a hash tag) keeps every queue key in one slot, as a Redis Cluster requires. */
  queuePrefix: z
    .string()
    .regex(/^(\{[A-Za-z0-9_-]{1,64}\}|[A-Za-z0-9_-]{1,64})$/, { error: 'must be 1-64 letters, digits, _ or -, optionally in braces ({retention}, for a Redis Cluster)' })
    .default('retention'),
  stores: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), storeEntry),
  rules: z.array(ruleSchemaFor(targetKeys)),
  limits: limitsSchema.optional(),
  worker: z
    .strictObject({ concurrency: z.number().int().min(1).max(64).default(2) })
    .default({ concurrency: 2 }),
  /** Deadlines of people's requests; defaults in src/policy/request-policy.ts. */
  requests: requestsSchema.optional(),
  /** Where personal data lives, for `retention coverage` (src/policy/inventory.ts). */
  inventory: z.array(inventoryEntrySchema, { error: 'inventory is a list of entries such as { store: app, table: public.users, columns: { email: email } }' }).optional(),
  });
}

export type RawConfig = z.infer<ReturnType<typeof configSchemaFor>>;
export type RawRule = z.infer<ReturnType<typeof ruleSchemaFor>>;
export type RawInventoryEntry = z.infer<typeof inventoryEntrySchema>;
