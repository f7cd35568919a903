import type { Redis } from 'ioredis';
import { runScript, script } from './run-script.js';

/**
 * Per key of KEYS that is a hash and, when ARGV[1] is not empty, whose field ARGV[1] holds
 * exactly ARGV[2] (bytes): PERSIST. Returns how many keys lost a TTL. The type and the field
 * are read in the same script as the PERSIST, so a key rewritten for someone else in
 * between keeps its TTL.
 */
const PERSIST_KEYS = script(`
local n = 0
for _, key in ipairs(KEYS) do
  if redis.call('TYPE', key)['ok'] == 'hash' and (ARGV[1] == '' or redis.call('HGET', key, ARGV[1]) == ARGV[2]) then
    n = n + redis.call('PERSIST', key)
  end
end
return n
`);

/**
 * Lifts the TTLs of `keys` that `action: expire` may have set (only ever on hashes), so a
 * hold placed after a sweep keeps them: with `owner`, only keys whose `owner.field` holds
 * exactly `owner.id`. A TTL the application set itself goes too (it cannot be told from
 * ours): the key is kept longer, never deleted sooner. Returns the TTLs lifted.
 */
export async function persistKeys(redis: Redis, keys: readonly Buffer[], owner: { field: string; id: string } | null): Promise<number> {
  if (keys.length === 0) return 0;
  return Number(await runScript(redis, PERSIST_KEYS, keys, owner === null ? ['', ''] : [owner.field, owner.id]));
}
