import type { Redis } from 'ioredis';
import type { AnchorRange } from '../../policy/expiry.js';
import { PLAUSIBLE_FROM_MS, PLAUSIBLE_UNTIL_MS } from '../anchor-text.js';
import { addUnjudged, emptyTally, IMPLAUSIBLE, NOT_A_STREAM, PageWalkShape, type PageTally } from './redis-shape.js';
import { runScript, script } from './run-script.js';

/**
 * Entries one script call reads (and, removing, deletes) from one stream: a script blocks
 * the server while it runs, and a thousand entries is about a millisecond.
 */
export const ENTRY_BUDGET = 1_000;

/**
 * Entries one approximate trim may remove (`XTRIM ... MINID ~ id LIMIT n`): it drops only
 * whole nodes of the stream, so it is cheap, and bounded, so a backlog of millions of
 * entries never blocks the server in one command.
 */
export const TRIM_BUDGET = 10_000;

/** The largest sequence number of a stream id: `<ms>-18446744073709551615` is the last id of millisecond `ms`. */
const LAST_SEQ = '18446744073709551615';

/** Stream ids (`<ms>-<seq>`, or `-`, `+`, `(id` exclusive) bounding the entries of one range, inclusive. */
export interface IdRange {
  start: string;
  end: string;
}

/**
 * The id ranges of the entries whose millisecond lies in the expired ranges, clipped to
 * the plausible window (2000-2100), and of the implausible entries, which are never
 * removed. An entry id's millisecond part is its anchor, so a range `[from, to]` of
 * milliseconds is exactly the ids `from-0` through `to-18446744073709551615`: every
 * sequence number of both bound milliseconds is in, nothing of the next millisecond is.
 * Ids compare as two unsigned 64-bit integers in Redis, and every bound here is a whole
 * number below 2^53 printed as plain digits, so no bound is rounded.
 */
export function idRanges(ranges: readonly AnchorRange[]): { expired: IdRange[]; implausible: [IdRange, IdRange] } {
  const expired = ranges.flatMap((r): IdRange[] => {
    const from = Math.max(r.from ?? PLAUSIBLE_FROM_MS, PLAUSIBLE_FROM_MS);
    const to = Math.min(r.to, PLAUSIBLE_UNTIL_MS - 1);
    return from <= to ? [{ start: `${digits(from)}-0`, end: `${digits(to)}-${LAST_SEQ}` }] : [];
  });
  return {
    expired,
    implausible: [
      { start: '-', end: `${digits(PLAUSIBLE_FROM_MS - 1)}-${LAST_SEQ}` },
      { start: `${digits(PLAUSIBLE_UNTIL_MS)}-0`, end: '+' },
    ],
  };
}

/**
 * The MINID for trimming a leading expired range `(-inf, to]` with XTRIM: XTRIM MINID drops
 * every entry whose id is below the given id, and `<to + 1>` reads as `<to + 1>-0`, so
 * exactly the entries of milliseconds up to and including `to` go. Null when the range is
 * not a leading one inside the plausible window (XTRIM would take implausible entries too).
 */
export function leadingMinId(range: AnchorRange): string | null {
  return range.from === null && range.to < PLAUSIBLE_UNTIL_MS - 1 ? digits(range.to + 1) : null;
}

function digits(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`stream id bound ${n} is not a whole number in 0..2^53`);
  return String(n);
}

/**
 * On KEYS[1]: {0} gone, {1} not a stream, or {2, entries, last id read}. Reads up to
 * ARGV[4] entries from ARGV[2] to ARGV[3] and, when ARGV[1] is `delete`, XDELs exactly
 * those. TYPE, the read and the delete are one script: nothing can come between the
 * entries judged and the entries deleted (stream ids never change, so the id read is the
 * anchor judged).
 */
const STREAM_RANGE = script(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return {0} end
if t ~= 'stream' then return {1} end
local entries = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[3], 'COUNT', tonumber(ARGV[4]))
if #entries == 0 then return {2, 0} end
local n = #entries
if ARGV[1] == 'delete' then
  local ids = {}
  for i, entry in ipairs(entries) do ids[i] = entry[1] end
  n = redis.call('XDEL', KEYS[1], unpack(ids))
end
return {2, n, entries[#entries][1]}
`);

/**
 * On KEYS[1]: {0} gone, {1} not a stream, {3} when entries lie below the plausible window
 * (ARGV[1]: the last id below it), which XTRIM would take too, or {2, entries trimmed}
 * after XTRIM MINID ARGV[2]: with ARGV[3] `exact`, exactly the entries below it; with a
 * number, approximately (`~ ... LIMIT n`): only whole nodes of entries all below it, at
 * most n entries, so possibly fewer than are below, never one more.
 */
const STREAM_TRIM_LEADING = script(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return {0} end
if t ~= 'stream' then return {1} end
if #redis.call('XRANGE', KEYS[1], '-', ARGV[1], 'COUNT', 1) > 0 then return {3} end
if ARGV[3] == 'exact' then return {2, redis.call('XTRIM', KEYS[1], 'MINID', ARGV[2])} end
return {2, redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[2], 'LIMIT', tonumber(ARGV[3]))}
`);

const STREAM_TOTAL = script(`
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'stream' then n = n + redis.call('XLEN', key) end
end
return n
`);

/** What walking one id range of one key found. */
type Walk = { kind: 'gone' } | { kind: 'not a stream' } | { kind: 'stream'; entries: number };

/**
 * Entries of streams (`anchor: stream-id`): event logs, audit trails, message histories.
 * An entry is an item, anchored at its id's millisecond. A leading expired range
 * `(-inf, to]` goes with `XTRIM key MINID <to + 1>` (in bounded steps); any other range (or a leading one
 * on a stream holding entries below the plausible window, which must stay) entry by
 * entry with XDEL, read with XRANGE in pages of `ENTRY_BUDGET`. Entries with an id before
 * 2000 or from 2100 on (custom ids such as `1-1`) are counted, never removed. The key
 * stays while it has entries; an emptied stream stays too (Redis keeps empty streams),
 * holding no data. Consumer groups are left as they are: a pending entry that was removed
 * reads as deleted, which XAUTOCLAIM and XCLAIM report.
 */
export class StreamShape extends PageWalkShape {
  async total(redis: Redis, keys: readonly Buffer[]): Promise<number> {
    return keys.length === 0 ? 0 : Number(await runScript(redis, STREAM_TOTAL, keys, []));
  }

  protected async page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], remove: boolean): Promise<PageTally> {
    const tally = emptyTally();
    const { expired, implausible } = idRanges(ranges);
    const minId = remove && ranges[0] ? leadingMinId(ranges[0]) : null;
    for (const key of keys) {
      let unplausible = 0;
      let type: Walk['kind'] = 'stream';
      for (const range of implausible) {
        const walk = await walkRange(redis, key, range, false);
        if (walk.kind !== 'stream') type = walk.kind;
        else unplausible += walk.entries;
      }
      if (type === 'not a stream') addUnjudged(tally.unjudged, NOT_A_STREAM);
      if (type !== 'stream') continue;
      addUnjudged(tally.unjudged, IMPLAUSIBLE, unplausible);
      for (const [i, range] of expired.entries()) {
        if (i === 0 && minId !== null) {
          const trimmed = await trimLeading(redis, key, implausible[0].end, minId);
          if (trimmed.kind === 'stream') {
            tally.items += trimmed.entries;
            continue;
          }
          if (trimmed.kind !== 'implausible below') break; // gone, or no longer a stream: nothing more to do to it
        }
        const walk = await walkRange(redis, key, range, remove);
        if (walk.kind !== 'stream') break;
        tally.items += walk.entries;
      }
    }
    return tally;
  }
}

/**
 * `XTRIM key MINID <minId>` in bounded steps: approximate trims of whole nodes while they
 * remove something, then one exact trim for the rest (less than a node). Each step's own
 * predicate is "id below minId", so the result is exactly the exact trim's.
 */
async function trimLeading(redis: Redis, key: Buffer, lastImplausible: string, minId: string): Promise<Walk | { kind: 'implausible below' }> {
  let entries = 0;
  for (let exact = false; ; ) {
    const reply = (await runScript(redis, STREAM_TRIM_LEADING, [key], [lastImplausible, minId, exact ? 'exact' : String(TRIM_BUDGET)])) as number[];
    if (reply[0] === 3) return entries === 0 ? { kind: 'implausible below' } : { kind: 'stream', entries };
    if (reply[0] !== 2) return entries === 0 ? { kind: reply[0] === 0 ? 'gone' : 'not a stream' } : { kind: 'stream', entries };
    const n = reply[1] ?? 0;
    entries += n;
    if (exact) return { kind: 'stream', entries };
    if (n === 0) exact = true;
  }
}

/** Reads (and with `remove`, deletes) every entry of `range` in `key`, a page per script call. */
async function walkRange(redis: Redis, key: Buffer, range: IdRange, remove: boolean): Promise<Walk> {
  let entries = 0;
  let start = range.start;
  for (;;) {
    const reply = (await runScript(redis, STREAM_RANGE, [key], [remove ? 'delete' : 'count', start, range.end, String(ENTRY_BUDGET)])) as [number, number?, string?];
    if (reply[0] === 0) return entries === 0 ? { kind: 'gone' } : { kind: 'stream', entries };
    if (reply[0] === 1) return entries === 0 ? { kind: 'not a stream' } : { kind: 'stream', entries };
    const [, n = 0, last] = reply;
    entries += n;
    if (n < ENTRY_BUDGET || last === undefined) return { kind: 'stream', entries };
    // Strictly after the last id read: an exclusive start (Redis 6.2 and later).
    start = `(${last}`;
  }
}
