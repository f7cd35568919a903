import type { Redis } from 'ioredis';
import type { Duration } from 'luxon';
import { expiresAt } from '../../policy/expires-at.js';
import { inRanges, type AnchorRange } from '../../policy/expiry.js';
import type { Unjudged } from '../store.js';
import { deleteIfUnchanged, type Changed } from './delete-if-unchanged.js';
import { FIELD_HOLD_LUA, fieldHoldArgs, heldByField, type FieldHold } from './field-hold.js';
import { HashShape, judgeHashes } from './hash-shape.js';
import { addHeld, emptyTally, type PageTally, type RedisShape } from './redis-shape.js';
import { runScript, script } from './run-script.js';
import type { AnchorUnit } from './target.js';

/**
 * Per key of KEYS: `PEXPIREAT key <instant> LT` if its anchor field (ARGV[base + 1]) still
 * holds exactly the text it was judged by (ARGV[base + 2i]) and its subject is not held
 * (`FIELD_HOLD_LUA`); the instant is ARGV[base + 2i + 1]. Returns {TTLs set, held keys
 * that would have had one}. `LT` (Redis 7) sets a TTL on a key without one and shortens a
 * longer one, and never lengthens a shorter one or removes it: a TTL the application set
 * for an earlier instant stays. The check and the PEXPIREAT are one script, so a key
 * rewritten in between (a new anchor) keeps whatever TTL it has.
 */
const EXPIRE_IF_UNCHANGED = script(`${FIELD_HOLD_LUA}
local field = ARGV[base + 1]
local n, kept = 0, 0
for i, key in ipairs(KEYS) do
  local v = redis.pcall('HGET', key, field)
  if type(v) == 'string' and v == ARGV[base + 2 * i] then
    local at = ARGV[base + 2 * i + 1]
    if isHeld(key) then
      local t = redis.call('PEXPIRETIME', key)
      if t == -1 or t > tonumber(at) then kept = kept + 1 end
    else
      n = n + redis.call('PEXPIREAT', key, at, 'LT')
    end
  end
end
return {n, kept}
`);

/** A key to expire at `at` (epoch ms), with the exact text its anchor held when judged. */
export interface DueKey {
  key: Buffer;
  anchor: string;
  at: number;
}

/** Runs EXPIRE_IF_UNCHANGED over `due`: TTLs set or shortened, and keys kept without one because their subject is held. */
export async function expireIfUnchanged(redis: Redis, due: readonly DueKey[], field: string, hold: FieldHold | null = null): Promise<Changed> {
  if (due.length === 0) return { changed: 0, held: 0 };
  for (const { at } of due) if (!Number.isSafeInteger(at)) throw new Error(`expiry instant ${at} is not a whole number of milliseconds`);
  const args = [...fieldHoldArgs(hold), field, ...due.flatMap((k) => [k.anchor, String(k.at)])];
  const reply = (await runScript(redis, EXPIRE_IF_UNCHANGED, due.map((k) => k.key), args)) as [number, number];
  return { changed: Number(reply[0]), held: Number(reply[1]) };
}

/** PEXPIRETIME of each key of KEYS: the instant its TTL fires (ms), -1 without a TTL, -2 gone. */
const EXPIRE_TIMES = script(`
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('PEXPIRETIME', key) end
return out
`);

/**
 * `action: expire` on hashes with a date field: instead of deleting a key when its period
 * has ended, give it a TTL that fires at that very instant (`anchor + retain`, luxon's
 * calendar arithmetic in the rule's zone, as the planner computes it), so Redis deletes
 * it on time by itself, between sweeps. A key already past its instant (its anchor in the
 * expired ranges) is deleted as `delete` does (compare-and-delete).
 *
 * It runs on every judged key of the pattern, not only the expired ones: the point is
 * that a key is gone at its instant even if no sweep runs then (a sweep every hour would
 * otherwise keep it up to an hour late, and a stopped worker forever). Each sweep also
 * reaches keys written since the last one.
 *
 * Only ever shortens (`PEXPIREAT ... LT`). An application that moves the anchor forward
 * (a "last seen" field) must set its own TTL when it does, or the key goes at the instant
 * of its old anchor: use `expire` on an anchor written once (creation, login), or with
 * an application that keeps its TTLs itself.
 *
 * Redis's clock decides when a TTL fires; the sweep's `now` comes from the state
 * database. Keep both on NTP: a Redis clock ahead deletes early by its lead.
 *
 * A key whose subject is held (`hold`, checked in the script that sets the TTL) is neither
 * deleted nor given a TTL. A TTL set by a sweep before the hold was placed would still
 * fire: `hold add` lifts it before the hold commits (`RedisStore.cancelExpiry`).
 */
export class ExpireTtlShape implements RedisShape {
  readonly #hash: HashShape;

  constructor(
    readonly field: string,
    readonly unit: AnchorUnit,
    readonly retain: Duration,
    readonly timezone: string,
  ) {
    this.#hash = new HashShape(field, unit);
  }

  /** Keys past their instant (deleted by `apply`) and TTLs `apply` would set or shorten now. */
  count(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold: FieldHold | null = null): Promise<PageTally> {
    return this.#page(redis, keys, ranges, false, hold);
  }

  unjudged(redis: Redis, keys: readonly Buffer[]): Promise<Unjudged> {
    return this.#hash.unjudged(redis, keys);
  }

  apply(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], hold: FieldHold | null = null): Promise<PageTally> {
    return this.#page(redis, keys, ranges, true, hold);
  }

  total(redis: Redis, keys: readonly Buffer[]): Promise<number> {
    return this.#hash.total(redis, keys);
  }

  async #page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], change: boolean, hold: FieldHold | null): Promise<PageTally> {
    const tally = emptyTally();
    const judged = await judgeHashes(redis, keys, this.field, this.unit, tally.unjudged);
    const expired = judged.filter((k) => inRanges(ranges, k.ms));
    const due = judged.filter((k) => !inRanges(ranges, k.ms)).map((k) => ({ ...k, at: expiresAt(k.ms, this.retain, this.timezone) }));
    if (change) {
      const deleted = await deleteIfUnchanged(redis, expired, this.field, hold);
      const expiring = await expireIfUnchanged(redis, due, this.field, hold);
      tally.items = deleted.changed;
      tally.ttls = expiring.changed;
      addHeld(tally, deleted.held + expiring.held);
      return tally;
    }
    const [expiredHeld, dueHeld] = await Promise.all([heldByField(redis, expired.map((k) => k.key), hold), heldByField(redis, due.map((k) => k.key), hold)]);
    tally.items = expiredHeld.filter((held) => !held).length;
    const times = due.length === 0 ? [] : ((await runScript(redis, EXPIRE_TIMES, due.map((k) => k.key), [])) as number[]);
    // What LT would do: set a TTL where there is none, shorten a later one.
    const shortened = due.map((k, i) => times[i] === -1 || (times[i]! >= 0 && times[i]! > k.at));
    tally.ttls = shortened.filter((would, i) => would && !dueHeld[i]).length;
    addHeld(tally, expiredHeld.filter(Boolean).length + shortened.filter((would, i) => would && dueHeld[i]).length);
    return tally;
  }
}
