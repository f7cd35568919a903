import type { Redis } from 'ioredis';
import { runScript, script } from './run-script.js';

/**
 * What one key holds in the anchor field: the field's text, or why there is none. A key
 * that is `gone` was deleted (or expired by its TTL) after SCAN listed it: it is neither
 * swept nor unjudged.
 */
export type AnchorRead = { kind: 'value'; text: string } | { kind: 'gone' } | { kind: 'missing' } | { kind: 'not a hash' };

/**
 * Reads the anchor field of every key in KEYS in one round trip (ARGV[1]: the field). Per
 * key: the value, or 0 (no such key), 1 (a hash without the field), 2 (not a hash). TYPE
 * first, so a string or list key is told apart from a hash without the field instead of
 * failing the whole page with WRONGTYPE.
 */
const READ_ANCHORS = script(`
local out = {}
for i, key in ipairs(KEYS) do
  local t = redis.call('TYPE', key)['ok']
  if t == 'none' then out[i] = 0
  elseif t ~= 'hash' then out[i] = 2
  else
    local v = redis.call('HGET', key, ARGV[1])
    if v then out[i] = v else out[i] = 1 end
  end
end
return out
`);

const CODES: Record<number, AnchorRead> = { 0: { kind: 'gone' }, 1: { kind: 'missing' }, 2: { kind: 'not a hash' } };

export async function readAnchors(redis: Redis, keys: readonly Buffer[], field: string): Promise<AnchorRead[]> {
  if (keys.length === 0) return [];
  const replies = (await runScript(redis, READ_ANCHORS, keys, [field])) as (string | number)[];
  return replies.map((reply) => {
    if (typeof reply === 'string') return { kind: 'value', text: reply };
    const read = CODES[reply];
    if (!read) throw new Error(`unexpected reply ${JSON.stringify(reply)} from the anchor-reading script`);
    return read;
  });
}
