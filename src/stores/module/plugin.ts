/**
 * The contract a store module (`kind: module`, `module: ./stores/elastic.js`) implements:
 * what its default export is, and what the store it creates answers. Plain data in and
 * out, no driver or zod types, so a module is plain JavaScript. The README ("Your own
 * store") documents it with a complete example (examples/stores/json-records.js).
 *
 * A module store only deletes, is swept in one batch per sweep, and is audited after the
 * change ("change, then record"): retention cannot make a foreign store's change and its
 * own audit entry commit together.
 */

/** The module's default export. */
export interface StorePlugin {
  /** Builds the store for one `stores.NAME` entry; called once per process, on first use. */
  create(setup: PluginSetup): PluginStore | Promise<PluginStore>;
}

/** What `create` is given. */
export interface PluginSetup {
  /** The store's name in the config (`stores.NAME`). */
  name: string;
  /** `stores.NAME.options` as written (after `${VAR}` interpolation); `{}` when absent. */
  options: Readonly<Record<string, unknown>>;
  /** The config file's directory: relative paths in `options` are meant relative to it. */
  baseDir: string;
  /** The config's `timezone`. */
  timezone: string;
}

/** A rule on the store, as the module sees it (a frozen copy: changing it changes nothing). */
export interface PluginRule {
  id: string;
  action: 'delete';
  /** ISO-8601 duration, e.g. `P1Y`; the expired ranges already apply it. */
  retain: string;
  timezone: string;
  /** The rule's `anchor:`, or null when it has none: what dates an item, as the module reads it. */
  anchor: string | null;
  /** The rule's `target:` mapping, the module's own (`{ collection: tickets }`); `{}` when absent. */
  target: Readonly<Record<string, unknown>>;
}

/** An inclusive range of anchor instants in epoch milliseconds; `from: null` is unbounded below. */
export interface PluginRange {
  from: number | null;
  to: number;
}

/**
 * Which items a call concerns: those whose anchor lies in one of `ranges` (sorted,
 * disjoint). An item whose anchor is missing or cannot be read is never in it.
 */
export interface PluginSelection {
  kind: 'expired';
  ranges: readonly PluginRange[];
}

/** A problem with a rule, found by `inspect`: `path` inside the rule (`target.collection`, `anchor`), or none for the rule as a whole. */
export interface PluginProblem {
  path?: string;
  message: string;
}

/**
 * The store. `count` and `apply` must use the same predicate (what `plan` shows is what
 * `run` does), and `apply` must re-check it at the moment of change: an item whose anchor
 * changed since it was counted is kept. Errors carrying a network `code` (`ECONNREFUSED`,
 * `ECONNRESET`, `ETIMEDOUT`) are retried; any other error fails the sweep.
 */
export interface PluginStore {
  /** Throws when the store cannot be reached. Optional. */
  ping?(): Promise<void>;
  /** What is wrong with a rule against the live store (for `check`). Optional. */
  inspect?(rule: PluginRule): Promise<PluginProblem[]>;
  /** How many items the selection covers now. Changes nothing. */
  count(rule: PluginRule, selection: PluginSelection): Promise<number>;
  /** Items the rule covers whose anchor cannot be judged, by reason ("missing anchor"). Optional. */
  unjudged?(rule: PluginRule): Promise<Record<string, number>>;
  /** Every item the rule covers, expired or not (for the fraction limit). */
  total(rule: PluginRule): Promise<number>;
  /** Deletes the selected items (with `dryRun`, only counts them); returns how many. */
  apply(rule: PluginRule, selection: PluginSelection, options: { dryRun: boolean }): Promise<number>;
  /** Releases connections and files. Optional. */
  close?(): Promise<void>;
}

/** The methods a store must have, and those it may. */
export const REQUIRED_METHODS = ['count', 'total', 'apply'] as const;
export const OPTIONAL_METHODS = ['ping', 'inspect', 'unjudged', 'close'] as const;
