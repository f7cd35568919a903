import type { KeyRange } from '../store.js';

/**
 * Row isolation shared by the SQL kinds: the bisection is dialect-free; each kind supplies
 * how to run its savepoint statements (the same SQL in PostgreSQL and InnoDB) and which of
 * its errors a single row's data can cause.
 */

/**
 * Rows a batch may skip before the failure is taken for what it is: a problem with the
 * rule or the schema (every row fails), not a few bad rows. Past it the batch fails as a
 * whole, rather than walking thousands of single-row statements to skip everything.
 */
export const MAX_SKIPPED_ROWS_PER_BATCH = 100;

const SAVEPOINT = 'retention_rows';

/** One batch's work over any part of its key range, inside the batch's transaction. */
export interface RangeWork {
  /** Changes the rows the rule matches in `range`; returns how many (and what cascaded, by table). */
  change(range: KeyRange): Promise<Changed>;
  /**
   * The keys in `range`, in key order, as text: of the rows the rule matches, or (`matching`
   * false) of every row, for when evaluating the rule's own predicate fails on a row.
   */
  keys(range: KeyRange, matching: boolean): Promise<string[]>;
}

/** What one statement (or the batch, summed over the parts that went through) changed. */
export interface Changed {
  rows: number;
  cascaded?: Record<string, number>;
  /** Objects queued in the cascade outbox by the same statement, by store. */
  objects?: Record<string, number>;
}

export interface IsolatedResult extends Changed {
  skipped: { key: string; reason: string }[];
}

/** Thrown when more rows fail than a few bad ones would explain; never transient. */
export class TooManyFailingRowsError extends Error {}

/** What a kind's transaction offers the isolation: its savepoint statements and its row errors. */
export interface Savepoints {
  /** Runs one statement (`SAVEPOINT x`, `ROLLBACK TO SAVEPOINT x`, `RELEASE SAVEPOINT x`) in the batch's transaction. */
  run(text: string): Promise<unknown>;
  /** Errors one row's data can cause; any other error is thrown and fails the batch. */
  isRowError(error: unknown): boolean;
}

/**
 * Changes one batch's range so that rows the statement fails on do not hold back the rest.
 * The whole range is tried first; if it fails on a row error, the keys of the range are
 * listed and the range is split in halves, each tried under a savepoint, down to the
 * single rows that fail: those are skipped (left as they are, reported with their key and
 * why), everything else is changed. The halves tile the range exactly (each runs the same
 * predicate over `(previous key, last key]`), so no row is changed twice or missed.
 *
 * `client` runs statements in the batch's transaction; `describe` turns an error into a reason that holds no
 * row values (it is recorded).
 */
export async function changeIsolatingRows(
  client: Savepoints,
  range: KeyRange,
  work: RangeWork,
  describe: (error: unknown) => string,
): Promise<IsolatedResult> {
  const whole = await attempt(client, () => work.change(range));
  if (whole.ok) return { ...whole.value, skipped: [] };

  let listed = await attempt(client, () => work.keys(range, true));
  if (!listed.ok) listed = await attempt(client, () => work.keys(range, false));
  // No keys to split by (the listing fails too, or the failing rows were gone when listed):
  // nothing to isolate, so the batch fails as it did.
  if (!listed.ok || listed.value.length === 0) throw whole.error;
  const keys = listed.value;
  // A statement that fails on a range holding no row fails for itself (a bind value its
  // column cannot take), not for any row: splitting would "skip" every row. It fails as it did.
  // Pieces keep the range's other restrictions (`within`: a partition's rows).
  const empty = await attempt(client, () => work.change({ ...range, after: keys[0]!, upTo: keys[0]! }));
  if (!empty.ok) throw whole.error;
  const tile = (first: number, last: number): KeyRange => ({
    ...range,
    after: first === 0 ? range.after : keys[first - 1]!,
    upTo: last === keys.length - 1 ? range.upTo : keys[last]!,
  });

  const result: IsolatedResult = { rows: 0, skipped: [] };
  const add = (part: Changed) => {
    result.rows += part.rows;
    for (const [table, n] of Object.entries(part.cascaded ?? {})) {
      result.cascaded = { ...result.cascaded, [table]: (result.cascaded?.[table] ?? 0) + n };
    }
    for (const [store, n] of Object.entries(part.objects ?? {})) {
      result.objects = { ...result.objects, [store]: (result.objects?.[store] ?? 0) + n };
    }
  };
  const split = async (first: number, last: number, failure: unknown): Promise<void> => {
    if (first === last) {
      result.skipped.push({ key: keys[first]!, reason: describe(failure) });
      if (result.skipped.length > MAX_SKIPPED_ROWS_PER_BATCH) {
        throw new TooManyFailingRowsError(
          `more than ${MAX_SKIPPED_ROWS_PER_BATCH} rows of this batch fail (${describe(whole.error)}); a failure this wide is the rule's or the schema's, not a few bad rows, so the batch is not applied`,
          { cause: whole.error },
        );
      }
      return;
    }
    const middle = Math.floor((first + last) / 2);
    for (const [from, to] of [[first, middle], [middle + 1, last]] as const) {
      const half = await attempt(client, () => work.change(tile(from, to)));
      if (half.ok) add(half.value);
      else await split(from, to, half.error);
    }
  };
  await split(0, keys.length - 1, whole.error);
  return result;
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

/**
 * Runs `work` under a savepoint: a row error rolls back to it (the transaction stays
 * usable) and is returned; any other error is thrown, for the transaction to roll back.
 */
async function attempt<T>(client: Savepoints, work: () => Promise<T>): Promise<Attempt<T>> {
  await client.run(`SAVEPOINT ${SAVEPOINT}`);
  try {
    const value = await work();
    await client.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return { ok: true, value };
  } catch (error) {
    if (!client.isRowError(error)) throw error;
    await client.run(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    await client.run(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return { ok: false, error };
  }
}
