import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import type { Action, Rule } from '../policy/rule.js';
import type { RuleCheckContext, TargetContext } from '../policy/store-kind-catalog.js';
import type { Store } from './store.js';

/**
 * A kind of store: one folder under src/stores/<kind>/ exporting one of these, plus one
 * line in registry.ts. The config loader validates `stores.NAME` with `configSchema` and
 * each rule's kind-specific fields (`targetKeys`) with `targetSchema`, with the same
 * path-named errors as the rest of the config.
 */
// `any` defaults: the registry lists kinds whose config and target shapes differ.
export interface StoreKind<Config = any, Target = any, ParsedTarget = Target> {
  /** 'postgres', 'mysql', 'files', 's3', 'redis', 'module'. */
  readonly kind: string;
  /** `stores.NAME` without `kind` (a strict object). */
  readonly configSchema: z.ZodType<Config>;
  /** The rule fields this kind owns: a strict object of exactly `targetKeys`. */
  readonly targetSchema: z.ZodType<ParsedTarget>;
  /** The YAML rule keys that belong to the target. */
  readonly targetKeys: readonly string[];
  readonly capabilities: StoreCapabilities;
  /**
   * What to say about a rule key another kind owns when a rule on this kind has it
   * (`table` on a Redis rule); without one, the loader names the kinds the key is for.
   */
  readonly misplaced?: Readonly<Record<string, string>>;
  /**
   * Completes a parsed target from what surrounds it (the store's defaults, the config's
   * zone, numbers exactly as written). Absent: the target is what the schema parsed.
   */
  resolveTarget?(parsed: ParsedTarget, context: TargetContext): Target;
  /**
   * Whether the target names the person itself: a `{subject}` placeholder in its key
   * pattern or path. The loader then sets the rule's `subject` to `SUBJECT_PLACEHOLDER`.
   * Absent: only a written `subject:` (a column, a field) names the person.
   */
  subjectInTarget?(target: Target): boolean;
  /** Static checks of one rule against its store config (no I/O); problems carry `path` prefixes. */
  checkRule?(rule: Rule<Target>, config: Config, path: string, context: RuleCheckContext): ConfigProblem[];
  /**
   * Builds the store. Async so that a kind imports its implementation and driver (pg,
   * mysql2, ioredis, the AWS SDK) here, with `await import(...)`, and not at the top of its
   * kind.ts: loading a config (and `--help`, `check` of a config without that kind) then
   * never pays for a driver it does not use (the AWS SDK alone takes ~120 ms to import).
   */
  create(name: string, config: Config, deps: StoreDeps): Promise<Store<Target>>;
}

export interface StoreCapabilities {
  /** What rules on it may do. */
  actions: readonly Action[];
  /** Can rewrite fields (SQL kinds). */
  anonymize: boolean;
  /** Can select one person's data and exclude held people's (`Selection` with a subject). */
  subjects: boolean;
  /**
   * 'transactional': change, checkpoint and audit commit together when the store is the
   * state database; 'change-then-record' otherwise.
   */
  audit: 'transactional' | 'change-then-record';
}

export interface StoreDeps {
  /** "stores.app.url in config.yaml, from $DATABASE_URL", for messages. */
  origin(path: string): string;
  /** Keys under `${queuePrefix}:` are never touched. */
  queuePrefix: string;
  /** To tell whether the store lives in the state database. */
  stateUrl: string;
  /** The state database's schema, which no rule may sweep. */
  stateSchema: string;
  timezone: string;
  /** The config file: relative paths in a store's config (a module store's `module:`) are relative to its directory. */
  configFile?: string;
}
