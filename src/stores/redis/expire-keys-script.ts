import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { AnchorRange } from '../../policy/expiry.js';

/**
 * Checks each key in KEYS and deletes (or only counts) the expired ones, in one atomic
 * step per page: the anchor is read and judged at the moment of deletion, so a key whose
 * anchor moved since it was scanned is kept, exactly as the PostgreSQL store re-checks
 * its predicate inside the DELETE.
 *
 * ARGV: anchor field, "1" to UNLINK or "0" to count, then `from to` per expired range
 * ("" for an open start). The anchor must be a decimal integer (epoch milliseconds); a
 * missing field, a non-numeric value or a key that is not a hash never expires. Bounds
 * are below 2^53, so Lua's doubles compare them exactly.
 */
const SCRIPT = `
local field = ARGV[1]
local remove = ARGV[2] == '1'
local froms, tos = {}, {}
for j = 3, #ARGV, 2 do
  froms[#froms + 1] = ARGV[j] ~= '' and tonumber(ARGV[j]) or false
  tos[#tos + 1] = tonumber(ARGV[j + 1])
end
local n = 0
for _, key in ipairs(KEYS) do
  local v = redis.pcall('HGET', key, field)
  if type(v) == 'string' and string.match(v, '^%-?%d+$') then
    local a = tonumber(v)
    for r = 1, #tos do
      if (not froms[r] or a >= froms[r]) and a <= tos[r] then
        if remove then redis.call('UNLINK', key) end
        n = n + 1
        break
      end
    end
  end
end
return n
`;

const SHA = createHash('sha1').update(SCRIPT).digest('hex');

/** Deletes (or, with `remove` false, counts) the expired keys among `keys`; returns how many. */
export async function expireKeys(redis: Redis, keys: readonly string[], anchorField: string, ranges: readonly AnchorRange[], remove: boolean): Promise<number> {
  if (keys.length === 0 || ranges.length === 0) return 0;
  const args = [anchorField, remove ? '1' : '0', ...ranges.flatMap((r) => [r.from === null ? '' : String(r.from), String(r.to)])];
  try {
    return Number(await redis.evalsha(SHA, keys.length, ...keys, ...args));
  } catch (error) {
    // First use on this server (or after SCRIPT FLUSH): send the script itself.
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return Number(await redis.eval(SCRIPT, keys.length, ...keys, ...args));
  }
}
