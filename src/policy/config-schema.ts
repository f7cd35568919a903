import { z } from 'zod';
import { durationProblem } from './duration.js';
import { STRATEGY_NAMES } from '../anonymize/registry.js';

/**
 * The config file's shape. Structure only: cross-field checks (a rule naming a store that
 * does not exist, duplicate ids) live in `validate-config.ts`, catalog checks in the store.
 * Every object is strict: a misspelt key must not silently disable a rule.
 */

/** Plain SQL identifiers only: letters, digits, `_` and `$`, not starting with a digit. */
export const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_$]*$/;
const IDENTIFIER_HINT = 'letters, digits, _ and $, not starting with a digit';
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

const identifier = (what: string) =>
  z.string({ error: `${what} must be a string` }).regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid ${what} (${IDENTIFIER_HINT})` });

const tableName = z
  .string({ error: 'table must be a string' })
  .regex(/^([A-Za-z_][A-Za-z0-9_$]*\.)?[A-Za-z_][A-Za-z0-9_$]*$/, {
    error: (issue) => `${JSON.stringify(issue.input)} is not a valid table name (name or schema.name; ${IDENTIFIER_HINT})`,
  });

const isoDuration = (example: string) =>
  z.string({ error: `must be an ISO-8601 duration such as ${example}` }).superRefine((text, ctx) => {
    const problem = durationProblem(text);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

const scalar = z.union([z.string(), z.number(), z.boolean()]);
const whereValue = z.union([scalar, z.null(), z.strictObject({ not: z.union([scalar, z.null()]) })], {
  error: 'a filter is a value, null, {not: value} or {not: null}',
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

export const ruleSchema = z.strictObject({
  id: z.string({ error: 'id is required' }).regex(SLUG, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid rule id (lowercase letters, digits and -, at most 63)` }),
  source: z.string().optional(),
  store: z.string({ error: 'store is required: the name of an entry under stores' }),
  /** PostgreSQL stores: the table to sweep. */
  table: tableName.optional(),
  /** Redis stores: the SCAN MATCH pattern of the keys to sweep, e.g. "session:*". */
  keys: z.string().min(1, { error: 'keys must be a non-empty SCAN pattern such as "session:*"' }).optional(),
  key: identifier('key column').default('id'),
  anchor: identifier('anchor column'),
  /** Redis stores, required there: how the anchor field is written. */
  anchorUnit: z.enum(['ms', 's', 'iso'], { error: (issue) => `${JSON.stringify(issue.input)} is not an anchor unit (ms, s or iso)` }).optional(),
  /**
   * PostgreSQL `timestamp`/`date` anchors: the zone their wall-clock times are written in.
   * Default: the store's anchorZone, else the config's timezone.
   */
  anchorZone: z.string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' }).optional(),
  retain: isoDuration('P6M'),
  action: z.enum(['delete', 'anonymize'], { error: (issue) => `${JSON.stringify(issue.input)} is not an action (delete or anonymize)` }),
  where: z.record(z.string().regex(IDENTIFIER, { error: (issue) => `${JSON.stringify(issue.input)} is not a valid column name` }), whereValue).optional(),
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
  /**
   * PostgreSQL delete rules: `allow` lets deletes remove (or rewrite) rows of other tables
   * through ON DELETE CASCADE / SET NULL / SET DEFAULT foreign keys; they are then counted,
   * limited and audited per table. Without it such a rule is refused at `check`.
   */
  cascades: z.literal('allow', { error: (issue) => `${JSON.stringify(issue.input)} is not a cascades setting (the only one is allow)` }).optional(),
});

const postgresStore = z.strictObject({
  kind: z.literal('postgres'),
  url: z.string({ error: 'url is required' }).regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  /** The zone `timestamp`/`date` anchor columns of this database are written in; a rule's own anchorZone wins. */
  anchorZone: z.string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' }).optional(),
});

const redisStore = z.strictObject({
  kind: z.literal('redis'),
  url: z.string({ error: 'url is required' }).regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }),
});

export const STORE_KINDS = ['postgres', 'redis'] as const;

const store = z.discriminatedUnion('kind', [postgresStore, redisStore], {
  error: (issue) =>
    issue.code === 'invalid_union' ? `kind must be one of: ${STORE_KINDS.join(', ')}` : undefined,
});

export const configSchema = z.strictObject({
  timezone: z.string().default('UTC'),
  redis: z.string({ error: 'redis is required (a redis:// URL)' }).regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' }),
  state: z.string({ error: 'state is required (a postgres:// URL)' }).regex(/^postgres(ql)?:\/\//, { error: 'must be a postgres:// URL' }),
  stateSchema: identifier('schema name').default('retention'),
  queuePrefix: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, { error: 'must be 1-64 letters, digits, _ or -' }).default('retention'),
  stores: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), store),
  rules: z.array(ruleSchema),
  limits: limitsSchema.optional(),
  worker: z
    .strictObject({ concurrency: z.number().int().min(1).max(64).default(2) })
    .default({ concurrency: 2 }),
});

export type RawConfig = z.infer<typeof configSchema>;
export type RawRule = z.infer<typeof ruleSchema>;
