import type { z } from 'zod';
import type { ConfigProblem } from '../errors.js';
import type { Action, Rule } from './rule.js';

/**
 * What the config loader needs to know about each store kind. Declared here so that
 * policy/ imports no store code: the CLI and runtime pass the store registry
 * (`STORE_KINDS`), whose kinds satisfy this.
 */
export interface CatalogKind {
  readonly kind: string;
  /** `stores.NAME` without `kind`. */
  readonly configSchema: z.ZodType<unknown>;
  /** The rule fields this kind owns (exactly `targetKeys`). */
  readonly targetSchema: z.ZodType<unknown>;
  readonly targetKeys: readonly string[];
  readonly capabilities: { readonly actions: readonly Action[]; readonly anonymize: boolean; readonly subjects: boolean };
  /**
   * What to say about a rule key another kind owns when a rule on this kind has it (`table`
   * on a Redis rule); without one, the loader names the kinds the key is for.
   */
  readonly misplaced?: Readonly<Record<string, string>>;
  /** Completes a parsed target from what surrounds it in the config (defaults, exact YAML values). */
  resolveTarget?(parsed: never, context: TargetContext): unknown;
  /** Whether the target names the person with a `{subject}` placeholder (its key pattern, its path). */
  subjectInTarget?(target: never): boolean;
  /** Static checks of one rule against its store's config; problems carry `path` prefixes. */
  checkRule?(rule: Rule<never>, config: never, path: string, context: RuleCheckContext): ConfigProblem[];
}

export type StoreKindCatalog = readonly CatalogKind[];

/** What a kind may read around a rule's target while it resolves it. */
export interface TargetContext {
  /** `rules[2]`. */
  path: string;
  /** The rule's store config (`stores.NAME` without `kind`), already parsed by the kind. */
  storeConfig: unknown;
  /** The config's `timezone`. */
  timezone: string;
  /**
   * The source text of a number in the YAML file at `path` (`rules[2].where.tenant_id`),
   * as written: a JavaScript number has already rounded 9007199254740993.
   */
  numberSource(path: string): string | undefined;
  problems: ConfigProblem[];
}

/** What a kind may read around a rule while it checks it. */
export interface RuleCheckContext {
  /** The state database's schema, which no rule may sweep. */
  stateSchema: string;
  timezone: string;
  /** The config's stores, name -> kind (a SQL rule's `cascade:` names a files or s3 store); the loader always gives it. */
  stores?: Readonly<Record<string, string>>;
}
