import type { Redis } from 'ioredis';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Unjudged } from '../store.js';
import type { FieldHold } from './field-hold.js';

/**
 * What one page of keys held for a rule: the items in the expired ranges (removed by
 * `apply`, that would be by `count`), the items that cannot be judged by reason, and for
 * `action: expire` the TTLs set or shortened (that would be, for `count`).
 *
 * Items are what the shape sweeps: keys for a hash, members for a sorted set, entries
 * for a stream.
 */
export interface PageTally {
  items: number;
  unjudged: Unjudged;
  ttls: number;
  /** Items left because their subject is held (that would have been removed or given a TTL); absent when none. */
  held?: number;
}

/**
 * One way of keeping dated data in Redis (a hash with a date field, a sorted set scored by
 * time, a stream), judged a page of SCAN keys at a time. The store walks the keys and
 * drops those under the queue prefix before a shape sees them; a shape owns everything
 * else: the key's type (a key of another type is counted by `unjudged` and never
 * touched), the anchor's reading, and the re-check at the moment of change, which is
 * atomic (one Lua script or one command whose own predicate is the expired range).
 *
 * `hold`: held subjects named by a hash field, which only a hash shape can read (its
 * script decides at the change); other shapes refuse one. Holds on a key's `{subject}`
 * segment are the store's: the key name cannot change, so held keys never reach a shape.
 */
export interface RedisShape {
  /** Items of the page in `ranges` and what cannot be judged. Changes nothing. */
  count(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold?: FieldHold | null): Promise<PageTally>;
  /** Items of the page that cannot be judged, by reason. Changes nothing. */
  unjudged(redis: Redis, keys: readonly Buffer[]): Promise<Unjudged>;
  /** Changes the page: what lies in `ranges` goes (or gets its TTL) unless held; re-checked atomically. */
  apply(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold?: FieldHold | null): Promise<PageTally>;
  /** All items the page's keys of this shape hold, for the fraction limit. */
  total(redis: Redis, keys: readonly Buffer[]): Promise<number>;
}

/**
 * A shape whose count, unjudged and apply are one walk over the page, changing it or not:
 * the same judgement counts for `plan` and changes for `run`.
 */
export abstract class PageWalkShape implements RedisShape {
  /** Whether the shape's items can carry a field naming the person (a hash's). */
  protected readonly readsFields: boolean = false;

  async count(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold: FieldHold | null = null): Promise<PageTally> {
    return this.page(redis, keys, ranges, false, this.#checked(hold));
  }

  async unjudged(redis: Redis, keys: readonly Buffer[]): Promise<Unjudged> {
    return (await this.page(redis, keys, [], false, null)).unjudged;
  }

  async apply(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold: FieldHold | null = null): Promise<PageTally> {
    return this.page(redis, keys, ranges, true, this.#checked(hold));
  }

  abstract total(redis: Redis, keys: readonly Buffer[]): Promise<number>;

  /** Judges the page against `ranges`; with `change`, removes what lies in them, except what `hold` keeps. */
  protected abstract page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], change: boolean, hold: FieldHold | null): Promise<PageTally>;

  // A hold this shape cannot read must fail loudly, never be ignored.
  #checked(hold: FieldHold | null): FieldHold | null {
    if (hold !== null && hold.held.length > 0 && !this.readsFields) throw new Error(`a ${this.constructor.name} has no field naming the person; holds by field ${JSON.stringify(hold.field)} cannot apply`);
    return hold;
  }
}

export const emptyTally = (): PageTally => ({ items: 0, unjudged: {}, ttls: 0 });

/** Adds `n` held items to `tally` (nothing when n is 0, so `held` appears only when some were). */
export function addHeld(tally: PageTally, n: number): void {
  if (n > 0) tally.held = (tally.held ?? 0) + n;
}

/** Adds `n` items of `reason` to `unjudged` (nothing when n is 0, so only non-zero reasons appear). */
export function addUnjudged(unjudged: Unjudged, reason: string, n = 1): void {
  if (n > 0) unjudged[reason] = (unjudged[reason] ?? 0) + n;
}

/** `into` plus `page`, in place. */
export function addTally(into: PageTally, page: PageTally): PageTally {
  into.items += page.items;
  into.ttls += page.ttls;
  addHeld(into, page.held ?? 0);
  for (const [reason, n] of Object.entries(page.unjudged)) addUnjudged(into.unjudged, reason, n);
  return into;
}

/** Why a key the pattern covers is never judged, as `unjudged` reports it. */
export const MISSING = 'missing anchor';
export const MALFORMED = 'malformed anchor';
export const IMPLAUSIBLE = 'implausible anchor';
export const NOT_A_HASH = 'not a hash';
export const NOT_A_ZSET = 'not a sorted set';
export const NOT_A_STREAM = 'not a stream';
/** A key the pattern's glob matches whose `{subject}` part is not one segment (empty, or holding `:`). */
export const NO_SUBJECT = 'no subject segment';
