import type pg from 'pg';
import type { ConfigProblem } from '../errors.js';
import type { AnchorRange } from '../policy/expiry.js';
import type { Rule } from '../policy/rule.js';
import type { AnonymizeContext } from '../anonymize/strategy.js';
import type { Database } from './postgres/connect.js';

/** One batch's slice of the key space: `after < key <= upTo`; null is open-ended. */
export interface KeyRange {
  after: string | null;
  upTo: string | null;
}

/** Counts of items whose anchor a store cannot judge, by reason. Empty when there are none. */
export type Unjudged = Record<string, number>;

/** Everything a store needs to change one batch. */
export interface BatchSpec {
  rule: Rule;
  ranges: readonly AnchorRange[];
  keyRange: KeyRange;
  dryRun: boolean;
  context: AnonymizeContext;
}

/** What one batch did. */
export interface BatchResult {
  /** Items deleted or anonymized (or, in a dry run, that would be). */
  rows: number;
  /**
   * Rows other tables lost with these through `ON DELETE CASCADE` foreign keys, by table
   * (`schema.table`), and rows rewritten by `ON DELETE SET NULL`/`SET DEFAULT` ones
   * (`schema.table (set null)`); absent when nothing cascades.
   */
  cascaded?: Record<string, number>;
  /**
   * Items the batch could not change (the statement failed on them alone) and left in
   * place so the rest of the batch could go: their key, raw, for the executor to digest
   * before anything is recorded (raw keys are never audited), and why.
   */
  skipped?: { key: string; reason: string }[];
}

/**
 * Work the executor runs inside the store's own transaction when the store lives in the
 * state database, so the checkpoint and audit entry commit atomically with the change.
 */
export interface TransactionHooks {
  /** Before the change; return false to skip it (the batch is already done). */
  before(client: pg.ClientBase): Promise<boolean>;
  /** After the change, with what it did (rows counted, in a dry run). */
  after(client: pg.ClientBase, result: BatchResult): Promise<void>;
}

/**
 * A data store a rule can sweep. Narrow on purpose: adding a store kind is one file that
 * implements this plus one line in registry.ts. Stores own their connections; nothing
 * above them touches a client, except through `TransactionHooks`.
 */
export interface Store {
  readonly name: string;
  readonly kind: string;
  /** Connects once; throws a UserError naming the URL and where it came from. */
  ping(): Promise<void>;
  /** What is wrong with the rule against the live store; `path` prefixes each problem. */
  inspect(rule: Rule, path: string, context: AnonymizeContext): Promise<ConfigProblem[]>;
  /** How many rows the rule would change now, for `plan`. Changes nothing. */
  count(rule: Rule, ranges: readonly AnchorRange[], context: AnonymizeContext): Promise<number>;
  /**
   * Items the rule covers whose anchor cannot be judged, by reason ("null anchor",
   * "malformed anchor", "implausible anchor"): never changed by a sweep, and reported by
   * `plan` and `run` so that data kept for that reason is seen, not silently kept.
   */
  unjudged(rule: Rule): Promise<Unjudged>;
  /**
   * All rows (or keys) the rule's table holds, for the fraction limit; for a delete rule
   * whose deletes cascade, plus the rows of every table they reach (as `countCascades`
   * adds those tables' rows to the affected count).
   */
  total(rule: Rule): Promise<number>;
  /**
   * Rows other tables would lose (`schema.table`) or have rewritten (`schema.table (set
   * null)`) through foreign keys if the rule's matching rows were deleted now: for `plan`
   * and the limits, which count them with the rule's own rows. Empty when nothing cascades.
   */
  countCascades?(rule: Rule, ranges: readonly AnchorRange[], context: AnonymizeContext): Promise<Record<string, number>>;
  /**
   * For `plan --diff`: rows the rule would change now that `previous` (the same rule in
   * an older config) would not, and the reverse. Stores that cannot compare omit it.
   */
  countChange?(
    rule: Rule,
    ranges: readonly AnchorRange[],
    previous: { rule: Rule; ranges: readonly AnchorRange[] },
    context: AnonymizeContext,
  ): Promise<{ newly: number; noLonger: number }>;
  /** Key ranges of about `rule.batchSize` rows each, covering the whole key space. */
  partition(rule: Rule): Promise<KeyRange[]>;
  /** Deletes or anonymizes (or, dry, counts) one batch. */
  apply(batch: BatchSpec, hooks?: TransactionHooks): Promise<BatchResult>;
  /** True when `apply` can run `hooks` in the same transaction as the state database. */
  sharesTransactionsWith(state: Database): boolean;
}
