import type { Redis } from 'ioredis';
import { runScript, script } from './run-script.js';
import type { ShapeName } from './shape-of-rule.js';

/**
 * Per key of KEYS of type ARGV[2] and, when ARGV[3] is not empty, whose hash field ARGV[3]
 * holds exactly ARGV[4] (bytes): its items (1 for a hash, its members, its entries), the
 * key UNLINKed when ARGV[1] is `delete`. Returns the items. The type and the field are read
 * in the same script as the UNLINK, so a key rewritten for someone else in between stays.
 */
const ERASE = script(`
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == ARGV[2] and (ARGV[3] == '' or redis.call('HGET', key, ARGV[3]) == ARGV[4]) then
    local items = 1
    if ARGV[2] == 'zset' then items = redis.call('ZCARD', key)
    elseif ARGV[2] == 'stream' then items = redis.call('XLEN', key) end
    if ARGV[1] == 'delete' then redis.call('UNLINK', key) end
    n = n + items
  end
end
return n
`);

/**
 * Whose keys an erasure takes: keys of the rule's shape (a key of another type is not the
 * rule's item and stays), and for a hash rule naming the person by a field, only those
 * whose `field` holds `id`. Keys named by a `{subject}` segment were matched exactly by the
 * store before they reach this (`field` null): every item of such a key is the person's.
 */
export interface Erasure {
  shape: ShapeName;
  field: string | null;
  id: string;
}

/**
 * One person's keys among `keys`, whatever their age: the whole key goes (a hash, a sorted
 * set with all its members, a stream with all its entries and consumer groups). Returns the
 * items they held; with `change` false, changes nothing.
 */
export async function eraseKeys(redis: Redis, keys: readonly Buffer[], erasure: Erasure, change: boolean): Promise<number> {
  if (keys.length === 0) return 0;
  const args = [change ? 'delete' : 'count', erasure.shape, erasure.field ?? '', erasure.field === null ? '' : erasure.id];
  return Number(await runScript(redis, ERASE, keys, args));
}
