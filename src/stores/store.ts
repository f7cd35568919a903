import type { ConfigProblem } from '../errors.js';
import type { AnchorRange } from '../policy/expiry.js';
import type { Rule } from '../policy/rule.js';
import type { SqlClient } from '../state/sql-client.js';
import type { Selection } from './selection.js';

/** One batch's slice of the key space: `after < key <= upTo`; null is open-ended. */
export interface KeyRange {
  after: string | null;
  upTo: string | null;
  /**
   * A drop batch (PostgreSQL range partitions): the partitions it drops whole, oldest
   * first, each if, when the batch runs, it is still attached with this bound and wholly
   * expired; the expired rows of any that may not go are deleted row by row instead (the
   * key bounds are then open). Recorded with the batch; a partition's name and bound are
   * not personal data.
   */
  partitions?: PartitionRef[];
  /**
   * Set by a store at run time, never recorded: only rows whose `column` lies in one of
   * these `[from, to)` ranges (bound values as text, read as the column's type; null is
   * unbounded). Partitions' bounds, so a drop batch that deletes row by row touches only
   * their rows.
   */
  within?: { column: string; ranges: { from: string | null; to: string | null }[] };
  /**
   * The row batches of a sweep that drops partitions: only rows whose `column` lies in
   * none of these `[from, to)` ranges (the bounds of the partitions its drop batches handle,
   * as planned, adjacent ones merged), so that no row is both dropped and deleted, in
   * whatever order the batches run. Recorded with the batch.
   */
  outside?: { column: string; ranges: { from: string | null; to: string | null }[] };
}

/** A partition a batch may drop: its qualified name and its bound as planned. */
export interface PartitionRef {
  /** Schema-qualified, quoted where needed, as PostgreSQL's `%I.%I` writes it: `app.logs_2024_01`. */
  name: string;
  /** The bound as PostgreSQL printed it at planning: `FOR VALUES FROM ('2024-01-01 00:00:00+00') TO (...)`. */
  bound: string;
}

/** Counts of items whose anchor a store cannot judge, by reason. Empty when there are none. */
export type Unjudged = Record<string, number>;

/**
 * Inputs a store may need at run time besides the rule (never part of a job payload):
 * the HMAC key for `hmac`, the zone for calendar truncation.
 */
export interface StoreContext {
  hmacKey: Buffer | null;
  timezone: string;
}

/** Everything a store needs to change one batch. */
export interface BatchSpec<Target = unknown> {
  rule: Rule<Target>;
  /** The same selection `count` and `partition` were given. */
  selection: Selection;
  keyRange: KeyRange;
  dryRun: boolean;
  context: StoreContext;
  /** The sweep and batch this is, recorded with the objects a delete queues (`cascade:`). */
  origin?: { sweepId: string; idx: number };
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
  /**
   * `action: expire` (Redis): TTLs set or shortened so the store deletes items at the
   * instant their period ends (in a dry run, that would be); `rows` are the items deleted.
   */
  ttls?: number;
  /**
   * `cascade:` rules: objects the deleted rows owned, queued for deletion in the same
   * transaction as the rows' DELETE, by store (in a dry run: that would be); absent when none.
   */
  objects?: Record<string, number>;
  /**
   * Items the selection would have changed but left because their subject is on legal
   * hold (`exceptSubjects`); absent or 0 when none were held.
   */
  held?: number;
  /**
   * A drop batch: each partition it dropped, with the rows it held, counted exactly under
   * lock before the drop (`rows` of the batch counts them too). Absent when it dropped none.
   */
  dropped?: { partition: string; rows: number }[];
  /**
   * A drop batch (not a dry run): each planned partition whose expired rows it deleted one
   * by one instead of dropping it, and why (a hold, a trigger, its bound changed, a lock
   * not had in time). Names only, no data.
   */
  partitionKept?: { partition: string; reason: string }[];
}

/** What the executor found, inside the batch's transaction, before the change. */
export interface BatchGuard {
  /**
   * Subjects on hold as of this transaction (raw ids, in memory only): the store adds
   * them to the batch's `exceptSubjects` (`exceptHeld`) before it builds its statement.
   */
  held: readonly string[];
}

/**
 * Work the executor runs inside the store's own transaction when the store lives in the
 * state database, so the checkpoint and audit entry commit atomically with the change.
 */
export interface BatchJournal {
  /**
   * Before the change, in its transaction: null to skip it (the batch is already done, its
   * sweep ended, its rule is on hold), else the holds the change must respect.
   */
  before(tx: SqlClient): Promise<BatchGuard | null>;
  /** After the change, with what it did (rows counted, in a dry run). */
  after(tx: SqlClient, result: BatchResult): Promise<void>;
}

/**
 * A data store a rule can sweep. Narrow on purpose and free of driver types: adding a
 * store kind is one folder under stores/ implementing this (and `StoreKind`) plus one
 * line in registry.ts. Stores own their connections and close them; nothing above them
 * touches a client, except the `SqlClient` a transactional store hands a `BatchJournal`.
 */
export interface Store<Target = unknown> {
  readonly name: string;
  readonly kind: string;
  /** Connects once; throws a UserError naming the URL and where it came from. */
  ping(): Promise<void>;
  /**
   * What is wrong with the rule against the live store; `path` prefixes each problem.
   * `rules`: the config's rules (of every store), for checks across rules (`check` passes
   * them; an archive rule's archive table must be swept by one of them). Absent: those
   * checks are skipped.
   */
  inspect(rule: Rule<Target>, path: string, context: StoreContext, rules?: readonly Rule[]): Promise<ConfigProblem[]>;
  /**
   * `check`'s live checks of the store as a whole, once (not per rule): what the role it
   * connects as may do beyond what sweeping needs. `rules` are the config's rules on this
   * store, each with its path (`rules[2]`); problems are at `path` (`stores.NAME`) or a
   * rule's field. Kinds without such checks omit it.
   */
  inspectStore?(rules: readonly { rule: Rule<Target>; path: string }[], path: string): Promise<ConfigProblem[]>;
  /** How many items the selection covers now, for `plan`. Changes nothing. */
  count(rule: Rule<Target>, selection: Selection, context: StoreContext): Promise<number>;
  /**
   * Items the rule covers whose anchor cannot be judged, by reason ("null anchor",
   * "malformed anchor", "implausible anchor"): never changed by a sweep, and reported by
   * `plan` and `run` so that data kept for that reason is seen, not silently kept.
   */
  unjudged(rule: Rule<Target>): Promise<Unjudged>;
  /**
   * All items the rule's target holds, for the fraction limit; for a delete rule whose
   * deletes cascade, plus the rows of every table they reach (as `countCascades` adds
   * those tables' rows to the affected count). With `atLeast`, a store may stop counting
   * once it has that many and return any number >= `atLeast`: the fraction limit needs no
   * more (`judgeLimits`), and an exact count of a huge table at every sweep would make each
   * sweep cost the whole table. Below `atLeast` the count must be exact.
   */
  total(rule: Rule<Target>, atLeast?: number): Promise<number>;
  /**
   * Rows other tables would lose (`schema.table`) or have rewritten (`schema.table (set
   * null)`) through foreign keys if the selected rows were deleted now: for `plan` and the
   * limits, which count them with the rule's own rows. Empty when nothing cascades.
   */
  countCascades?(rule: Rule<Target>, selection: Selection, context: StoreContext): Promise<Record<string, number>>;
  /**
   * `cascade:` rules: objects (files, S3 keys) the selected rows own, by store: the
   * non-NULL template values among them, for `plan` and the limits (which count them with
   * the rows, see `limitedCount`). Empty when the rule has none.
   */
  countObjects?(rule: Rule<Target>, selection: Selection, context: StoreContext): Promise<Record<string, number>>;
  /**
   * For `plan --diff`: items the rule would change now that `previous` (the same rule in
   * an older config) would not, and the reverse. Stores that cannot compare omit it.
   */
  countChange?(
    rule: Rule<Target>,
    selection: Selection,
    previous: { rule: Rule<Target>; selection: Selection },
    context: StoreContext,
  ): Promise<{ newly: number; noLonger: number }>;
  /**
   * `retention sunset`: items of the target `rules` share (rules of this store naming the
   * same table) that none of their `where` filters select, whatever their age: what a
   * sunset applying them leaves in place. Kinds whose rules have no filters omit it.
   */
  countOutside?(rules: readonly Rule<Target>[]): Promise<number>;
  /**
   * Key ranges of about `rule.batchSize` items each covering the selection (opaque string
   * bounds); one open range when the kind cannot split. None when the store can tell, from
   * an index, that the selection holds nothing now: the sweep then ends at once, with one
   * audit entry instead of one per empty batch. `context` lets a store leave out items an
   * anonymize rule has already done.
   */
  partition(rule: Rule<Target>, selection: Selection, context?: StoreContext): Promise<KeyRange[]>;
  /**
   * For `plan`: the partitions (qualified names) a sweep of the selection would drop whole
   * instead of deleting their rows one by one (PostgreSQL range partitions wholly
   * expired). Their rows are in `count`. Kinds without partitions omit it.
   */
  partitionsToDrop?(rule: Rule<Target>, selection: Selection): Promise<string[]>;
  /**
   * Erasure requests and replay (`subject:` rules): the raw subject values the rule's items
   * carry, in pages (a value may repeat across pages). Replay after a restore knows people
   * only by keyed digest, so it digests these to find whom to erase again.
   */
  scanSubjects?(rule: Rule<Target>): AsyncIterable<readonly string[]>;
  /**
   * SQL kinds: the targets (as `describe` names them) the rule's rows reference through
   * foreign keys, read from the catalog, so that an erasure deletes children before the
   * rows they reference. Empty when none.
   */
  dependsOn?(rule: Rule<Target>): Promise<string[]>;
  /**
   * Rules whose action makes the store delete items on its own (`expire`: a TTL a sweep
   * set): removes the TTLs of the rule's items of `subject` (raw id, matched exactly as an
   * erasure matches it), or with null of every item the rule covers (a hold on the whole
   * rule), and returns how many TTLs it lifted. `hold add` calls it under the holds lock,
   * before the hold commits, so a TTL set before the hold cannot delete held items. A TTL
   * the application set itself is lifted too: keeping data is the safe direction, and the
   * sweeps after the hold's release set the rule's TTLs again. Kinds without such an
   * action omit it.
   */
  cancelExpiry?(rule: Rule<Target>, subject: string | null): Promise<number>;
  /**
   * Next-expiry scheduling: the smallest anchor (epoch ms; `ms + 0.5` for one with digits
   * below the millisecond) of the items the rule covers (its `where` filters, whatever
   * their action has done) whose anchor lies in none of `expired` (the ranges of a sweep's
   * `now`: not yet expired then) and, when given, in one of `within`; null when there is
   * none. An index probe where the anchor is indexed, never a scan of the expired items.
   * Kinds that cannot find it without reading every item omit it.
   */
  nextExpiring?(rule: Rule<Target>, expired: readonly AnchorRange[], within?: readonly AnchorRange[]): Promise<number | null>;
  /**
   * The smallest anchor (as `nextExpiring`) among the items the selection selects now
   * (expired, not of a held subject, for anonymize not yet anonymized): the oldest expired
   * item still present, for the rule's lag. Null when there is none.
   */
  oldestPending?(rule: Rule<Target>, selection: Selection, context: StoreContext): Promise<number | null>;
  /**
   * Whether an ordered index starts with the rule's anchor (what `nextExpiring` checks):
   * without one, `oldestPending` reads the whole table. The worker's lag gauge asks this
   * first and gives no sample rather than scan on every scrape; plan and status do not.
   */
  anchorIndexed?(rule: Rule<Target>): Promise<boolean>;
  /** Deletes or anonymizes (or, dry, counts) one batch. */
  apply(batch: BatchSpec<Target>, journal?: BatchJournal): Promise<BatchResult>;
  /** True when `apply` runs a journal in the same transaction as the state database at `stateUrl`. */
  sharesTransactionsWith(stateUrl: string): boolean;
  /** What plan and the audit show for the rule's target: "public.logs", "session:*", "photos/**\/*.jpg". */
  describe(rule: Rule<Target>): string;
  /** Closes the store's own connections. */
  close(): Promise<void>;
}
