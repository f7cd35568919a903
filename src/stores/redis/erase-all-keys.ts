import type { Redis } from 'ioredis';
import { FIELD_HOLD_LUA, type FieldHold } from './field-hold.js';
import { runScript, script } from './run-script.js';
import type { ShapeName } from './shape-of-rule.js';

/**
 * Per key of KEYS of type ARGV[base + 2]: its items (1 for a hash, its members, its
 * entries), kept and counted as held when its hash field names a held subject (`isHeld`,
 * FIELD_HOLD_LUA), else UNLINKed when ARGV[base + 1] is `delete`. Returns { items, held }.
 * The type and the field are read in the same script as the UNLINK, so a key rewritten
 * for a held person in between stays.
 */
const ERASE_ALL = script(`${FIELD_HOLD_LUA}
local change, shape = ARGV[base + 1], ARGV[base + 2]
local n, held = 0, 0
for _, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == shape then
    local items = 1
    if shape == 'zset' then items = redis.call('ZCARD', key)
    elseif shape == 'stream' then items = redis.call('XLEN', key) end
    if isHeld(key) then
      held = held + items
    else
      if change == 'delete' then redis.call('UNLINK', key) end
      n = n + items
    end
  end
end
return {n, held}
`);

/** What `eraseAllKeys` found in one group of keys. */
export interface ErasedAll {
  items: number;
  held: number;
}

/**
 * A service sunset: every key among `keys` of the rule's shape goes whole, whatever its
 * anchor holds (missing, malformed, implausible, not yet due), and whatever TTL it has; a
 * key of another type is not the rule's item and stays. A hash whose `hold.field` holds a
 * held id is kept (counted in `held`). Returns the items (keys, members, entries); with
 * `change` false, changes nothing.
 */
export async function eraseAllKeys(redis: Redis, keys: readonly Buffer[], shape: ShapeName, hold: FieldHold | null, change: boolean): Promise<ErasedAll> {
  if (keys.length === 0) return { items: 0, held: 0 };
  const held = hold?.held ?? [];
  const args = [hold?.field ?? '', String(held.length), ...held, change ? 'delete' : 'count', shape];
  const [items, kept] = (await runScript(redis, ERASE_ALL, keys, args)) as [number, number];
  return { items: Number(items), held: Number(kept) };
}
