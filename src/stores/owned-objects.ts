import type { SqlClient } from '../state/sql-client.js';
import type { Rule } from '../policy/rule.js';

/**
 * Row-to-object cascades across stores (a SQL rule's `cascade:`): the few shapes the
 * executor's drain and the stores share. A SQL store keeps the outbox (the references of
 * rows it deleted, queued in the same transaction); a files or S3 store deletes the objects
 * it names, each under the store's own confinement.
 */

/** One queued object: the store holding it and its name there, raw (it may hold personal data). */
export interface OutboxEntry {
  /** Opaque id within the outbox. */
  id: string;
  /** Name of the files or s3 store in the config. */
  store: string;
  /** The rendered template: a path under the store's root, or an exact key in its bucket. Untrusted. */
  path: string;
  ruleId: string;
  /** The sweep and batch whose DELETE queued it; null if unknown. */
  sweepId: string | null;
  batch: number | null;
}

/**
 * What deleting one named object did: deleted, already gone (counted as deleted), or
 * refused (the name would reach outside the store's confinement, or is not a plain
 * object): then never deleted, and recorded with why.
 */
export type ObjectDeletion = 'deleted' | 'missing' | { refused: string } | { failed: string };

/** How a drain settled each claimed entry. */
export type EntrySettlement = 'done' | { retry: string };

/** A store whose objects a row can own: deletes exactly the named objects, confined. */
export interface ObjectDeleter {
  /**
   * Deletes each named object (a path relative to the root, an exact key), in order, one
   * answer each. A name that escapes the store (`..`, absolute, a symbolic link on the
   * way) is refused and left; a failure of one object is `failed` (with a reason that
   * holds no path); a failure of the store as a whole is thrown.
   */
  deleteObjects(names: readonly string[]): Promise<ObjectDeletion[]>;
}

/** A store that keeps a cascade outbox. */
export interface ObjectOutbox {
  /**
   * Claims up to `limit` due entries (locked: no other drain takes them), lets `settle`
   * handle them, then removes the `done` ones and postpones the others, all in one
   * transaction. Returns how many were claimed (0: nothing due).
   */
  drainOutbox(
    limit: number,
    /** Gets the claimed entries and the transaction holding them, to re-check them in. */
    settle: (entries: readonly OutboxEntry[], tx: SqlClient) => Promise<EntrySettlement[]>,
    /** Run in the same transaction before it commits (the audit entry, when the outbox is in the state database). */
    journal?: (tx: SqlClient) => Promise<void>,
  ): Promise<number>;
  /** Entries waiting (due or postponed); 0 when the outbox was never created. */
  pendingObjects(): Promise<number>;
  /**
   * Which of `paths` (objects of `store` queued by `rule`) a live row of the rule's table
   * still names: those are not deleted, whoever queued them. Null when the rule (as the
   * config has it now) no longer cascades into `store`: nothing can be checked, and an
   * operator who removed the cascade asked for those objects to stay.
   */
  referencedPaths(tx: SqlClient, rule: Rule, store: string, paths: readonly string[]): Promise<Set<string> | null>;
}

export function isObjectDeleter(store: object): store is ObjectDeleter {
  return typeof (store as Partial<ObjectDeleter>).deleteObjects === 'function';
}

export function isObjectOutbox(store: object): store is ObjectOutbox {
  return typeof (store as Partial<ObjectOutbox>).drainOutbox === 'function' && typeof (store as Partial<ObjectOutbox>).pendingObjects === 'function';
}
