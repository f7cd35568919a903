import type { Redis } from 'ioredis';
import { runScript, script } from './run-script.js';

/**
 * UNLINKs each key of KEYS whose anchor field (ARGV[1]) still holds exactly the text it
 * was judged by (ARGV[i + 1] for KEYS[i]), in one atomic step; returns how many went.
 * A key touched in between (its session used again, rewritten, replaced by another type,
 * already gone) is kept: the check at deletion is exact, as the PostgreSQL store re-checks
 * its predicate inside the DELETE, because the expired ranges are fixed for the sweep and
 * the same text always judges the same way.
 */
const DELETE_IF_UNCHANGED = script(`
local n = 0
for i, key in ipairs(KEYS) do
  local v = redis.pcall('HGET', key, ARGV[1])
  if type(v) == 'string' and v == ARGV[i + 1] then
    redis.call('UNLINK', key)
    n = n + 1
  end
end
return n
`);

export async function deleteIfUnchanged(redis: Redis, judged: readonly { key: Buffer; anchor: string }[], field: string): Promise<number> {
  if (judged.length === 0) return 0;
  const reply = await runScript(redis, DELETE_IF_UNCHANGED, judged.map((j) => j.key), [field, ...judged.map((j) => j.anchor)]);
  return Number(reply);
}
