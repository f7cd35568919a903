import type { Redis } from 'ioredis';
import { FIELD_HOLD_LUA, fieldHoldArgs, type FieldHold } from './field-hold.js';
import { runScript, script } from './run-script.js';

/** What a compare-and-change script did: keys changed, and keys it kept because their subject is held. */
export interface Changed {
  changed: number;
  held: number;
}

/**
 * UNLINKs each key of KEYS whose anchor field (ARGV[base + 1]) still holds exactly the
 * text it was judged by (ARGV[base + 1 + i] for KEYS[i]), in one atomic step, unless its
 * subject is held (`FIELD_HOLD_LUA`); returns {deleted, held}. A key touched in between
 * (its session used again, rewritten, replaced by another type, already gone) is kept:
 * the check at deletion is exact, as the PostgreSQL store re-checks its predicate inside
 * the DELETE, because the expired ranges are fixed for the sweep and the same text always
 * judges the same way.
 */
const DELETE_IF_UNCHANGED = script(`${FIELD_HOLD_LUA}
local field = ARGV[base + 1]
local n, kept = 0, 0
for i, key in ipairs(KEYS) do
  local v = redis.pcall('HGET', key, field)
  if type(v) == 'string' and v == ARGV[base + 1 + i] then
    if isHeld(key) then
      kept = kept + 1
    else
      redis.call('UNLINK', key)
      n = n + 1
    end
  end
end
return {n, kept}
`);

export async function deleteIfUnchanged(redis: Redis, judged: readonly { key: Buffer; anchor: string }[], field: string, hold: FieldHold | null = null): Promise<Changed> {
  if (judged.length === 0) return { changed: 0, held: 0 };
  const reply = (await runScript(redis, DELETE_IF_UNCHANGED, judged.map((j) => j.key), [...fieldHoldArgs(hold), field, ...judged.map((j) => j.anchor)])) as [number, number];
  return { changed: Number(reply[0]), held: Number(reply[1]) };
}
