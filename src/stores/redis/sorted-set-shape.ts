import type { Redis } from 'ioredis';
import type { AnchorRange } from '../../policy/expiry.js';
import { PLAUSIBLE_FROM_MS, PLAUSIBLE_UNTIL_MS } from '../anchor-text.js';
import { addUnjudged, emptyTally, IMPLAUSIBLE, NOT_A_ZSET, PageWalkShape, type PageTally } from './redis-shape.js';
import { runScript, script } from './run-script.js';

/** How a sorted set's scores are written: epoch milliseconds or epoch seconds. */
export type ScoreUnit = 'ms' | 's';

/**
 * Members one script call may remove, over all keys and ranges of a page: a script blocks
 * the server while it runs, and removing ten thousand members is a few milliseconds. A
 * page that has more is finished by further calls.
 */
export const REMOVE_BUDGET = 10_000;

/** Score bounds as ZCOUNT/ZREMRANGEBYSCORE read them: a number, `(number` (exclusive), `-inf`, `+inf`. */
export interface ScoreRange {
  min: string;
  max: string;
}

const MS_PER_SECOND = 1_000;
const PLAUSIBLE_FROM_S = PLAUSIBLE_FROM_MS / MS_PER_SECOND;
const PLAUSIBLE_UNTIL_S = PLAUSIBLE_UNTIL_MS / MS_PER_SECOND;

/**
 * The score ranges of the members whose time lies in the expired ranges, and of the
 * implausible members (outside 2000-2100 in the unit), which are never removed.
 *
 * Scores are doubles. Every bound here is a whole number below 2^53, which a double holds
 * exactly and `String()` prints as plain digits, so Redis compares each score with the
 * very bound meant:
 * - `ms`: a member is expired when `from <= score <= to` (inclusive). A score with a
 *   fraction of a millisecond, `a < score < a + 1`, is then expired exactly when both `a`
 *   and `a + 1` are: when all of its millisecond is, as an ISO anchor with sub-millisecond
 *   digits is judged.
 * - `s`: a score's true instant may lie anywhere in its second (writers truncate), so a
 *   member goes only when all of its second has expired: `floor(score) * 1000 >= from` and
 *   `floor(score) * 1000 + 999 <= to`, i.e. `ceil(from / 1000) <= score < floor((to - 999)
 *   / 1000) + 1`. Never early; at most 999 ms late.
 * Both are clipped to the plausible window, so an implausible score is in no range.
 */
export function scoreRanges(ranges: readonly AnchorRange[], unit: ScoreUnit): { expired: ScoreRange[]; implausible: [ScoreRange, ScoreRange] } {
  if (unit === 'ms') {
    const expired = ranges.flatMap((r): ScoreRange[] => {
      const min = Math.max(r.from ?? PLAUSIBLE_FROM_MS, PLAUSIBLE_FROM_MS);
      if (r.to < PLAUSIBLE_UNTIL_MS) return min <= r.to ? [{ min: digits(min), max: digits(r.to) }] : [];
      return min < PLAUSIBLE_UNTIL_MS ? [{ min: digits(min), max: `(${digits(PLAUSIBLE_UNTIL_MS)}` }] : [];
    });
    return { expired, implausible: outside(PLAUSIBLE_FROM_MS, PLAUSIBLE_UNTIL_MS) };
  }
  const expired = ranges.flatMap((r): ScoreRange[] => {
    const min = Math.max(r.from === null ? PLAUSIBLE_FROM_S : -floorDiv(-r.from, MS_PER_SECOND), PLAUSIBLE_FROM_S);
    const below = Math.min(floorDiv(r.to - 999, MS_PER_SECOND) + 1, PLAUSIBLE_UNTIL_S);
    return min < below ? [{ min: digits(min), max: `(${digits(below)}` }] : [];
  });
  return { expired, implausible: outside(PLAUSIBLE_FROM_S, PLAUSIBLE_UNTIL_S) };
}

/** Scores below `from` and from `until` up: the implausible ones. */
function outside(from: number, until: number): [ScoreRange, ScoreRange] {
  return [
    { min: '-inf', max: `(${digits(from)}` },
    { min: digits(until), max: '+inf' },
  ];
}

/** Floor division of integers, exact (no float division near a whole number). */
function floorDiv(n: number, d: number): number {
  return (n - (((n % d) + d) % d)) / d;
}

function digits(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`score bound ${n} is not a whole number below 2^53`);
  return String(n);
}

/**
 * Per key of KEYS: {0} gone, {1} not a sorted set, or {2, members in the expired ranges,
 * implausible members, 1 if the budget ran out before the key was done}.
 * ARGV[1]: `count` (ZCOUNT, changes nothing) or `remove` (ZREMRANGEBYSCORE);
 * ARGV[2]: the budget of members this call may remove; ARGV[3..6]: the two implausible
 * ranges; ARGV[7..]: min and max of each expired range.
 *
 * TYPE and the removal run in one script, so a key that changes type in between is never
 * touched. The removal's own predicate is the expired score range, so a member whose score
 * changed since `plan` (a session used again, re-added with a new time) is judged by the
 * score it holds at that moment. Over budget, a range is removed up to the score of its
 * budget-th member (inclusive: ties go too, they are just as expired) and the key is
 * reported unfinished.
 */
const ZSET_PAGE = script(`
local remove = ARGV[1] == 'remove'
local budget = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then out[i] = {0}
  elseif t ~= 'zset' then out[i] = {1}
  else
    local implausible = redis.call('ZCOUNT', key, ARGV[3], ARGV[4]) + redis.call('ZCOUNT', key, ARGV[5], ARGV[6])
    local n, more = 0, 0
    for j = 7, #ARGV, 2 do
      local min, max = ARGV[j], ARGV[j + 1]
      if not remove then
        n = n + redis.call('ZCOUNT', key, min, max)
      elseif budget <= 0 then
        more = 1
      else
        local last = redis.call('ZRANGE', key, min, max, 'BYSCORE', 'LIMIT', budget - 1, 1, 'WITHSCORES')
        if #last == 0 then
          local removed = redis.call('ZREMRANGEBYSCORE', key, min, max)
          n = n + removed
          budget = budget - removed
        else
          n = n + redis.call('ZREMRANGEBYSCORE', key, min, last[2])
          budget = 0
          more = 1
        end
      end
    end
    out[i] = {2, n, implausible, more}
  end
end
return out
`);

const ZSET_TOTAL = script(`
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'zset' then n = n + redis.call('ZCARD', key) end
end
return n
`);

/**
 * Members of sorted sets scored by time (`anchor: score`): logins, sessions, events kept
 * per user. A member is an item: expired members are removed with ZREMRANGEBYSCORE, one
 * call per expired range, and the key stays while it has members (Redis drops an empty
 * sorted set by itself). Members with implausible scores are counted, never removed.
 */
export class SortedSetShape extends PageWalkShape {
  constructor(readonly unit: ScoreUnit) {
    super();
  }

  async total(redis: Redis, keys: readonly Buffer[]): Promise<number> {
    return keys.length === 0 ? 0 : Number(await runScript(redis, ZSET_TOTAL, keys, []));
  }

  protected async page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], remove: boolean): Promise<PageTally> {
    const tally = emptyTally();
    const { expired, implausible } = scoreRanges(ranges, this.unit);
    const args = [remove ? 'remove' : 'count', String(REMOVE_BUDGET), ...[...implausible, ...expired].flatMap((r) => [r.min, r.max])];
    // Implausible members and wrong types are counted on a key's first pass only.
    let first = true;
    let pending = keys;
    while (pending.length > 0) {
      const replies = (await runScript(redis, ZSET_PAGE, pending, args)) as number[][];
      const unfinished: Buffer[] = [];
      replies.forEach((reply, i) => {
        const [status, items = 0, unplausible = 0, more = 0] = reply;
        if (status === 1 && first) addUnjudged(tally.unjudged, NOT_A_ZSET);
        if (status !== 2) return;
        tally.items += items;
        if (first) addUnjudged(tally.unjudged, IMPLAUSIBLE, unplausible);
        if (more === 1) unfinished.push(pending[i]!);
      });
      first = false;
      pending = unfinished;
    }
    return tally;
  }
}
