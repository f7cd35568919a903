import type { Redis } from 'ioredis';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Unjudged } from '../store.js';

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
}

/**
 * One way of keeping dated data in Redis (a hash with a date field, a sorted set scored by
 * time, a stream), judged a page of SCAN keys at a time. The store walks the keys and
 * drops those under the queue prefix before a shape sees them; a shape owns everything
 * else: the key's type (a key of another type is counted by `unjudged` and never
 * touched), the anchor's reading, and the re-check at the moment of change, which is
 * atomic (one Lua script or one command whose own predicate is the expired range).
 */
export interface RedisShape {
  /** Items of the page in `ranges` and what cannot be judged. Changes nothing. */
  count(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[]): Promise<PageTally>;
  /** Items of the page that cannot be judged, by reason. Changes nothing. */
  unjudged(redis: Redis, keys: readonly Buffer[]): Promise<Unjudged>;
  /** Changes the page: what lies in `ranges` goes (or gets its TTL); re-checked atomically. */
  apply(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[]): Promise<PageTally>;
  /** All items the page's keys of this shape hold, for the fraction limit. */
  total(redis: Redis, keys: readonly Buffer[]): Promise<number>;
}

/**
 * A shape whose count, unjudged and apply are one walk over the page, changing it or not:
 * the same judgement counts for `plan` and changes for `run`.
 */
export abstract class PageWalkShape implements RedisShape {
  count(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[]): Promise<PageTally> {
    return this.page(redis, keys, ranges, false);
  }

  async unjudged(redis: Redis, keys: readonly Buffer[]): Promise<Unjudged> {
    return (await this.page(redis, keys, [], false)).unjudged;
  }

  apply(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[]): Promise<PageTally> {
    return this.page(redis, keys, ranges, true);
  }

  abstract total(redis: Redis, keys: readonly Buffer[]): Promise<number>;

  /** Judges the page against `ranges`; with `change`, removes what lies in them. */
  protected abstract page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], change: boolean): Promise<PageTally>;
}

export const emptyTally = (): PageTally => ({ items: 0, unjudged: {}, ttls: 0 });

/** Adds `n` items of `reason` to `unjudged` (nothing when n is 0, so only non-zero reasons appear). */
export function addUnjudged(unjudged: Unjudged, reason: string, n = 1): void {
  if (n > 0) unjudged[reason] = (unjudged[reason] ?? 0) + n;
}

/** `into` plus `page`, in place. */
export function addTally(into: PageTally, page: PageTally): PageTally {
  into.items += page.items;
  into.ttls += page.ttls;
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
