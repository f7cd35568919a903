import type { Redis } from 'ioredis';
import { readAnchors } from './read-anchors.js';

/**
 * Legal holds on a hash rule that names the person by a field (`subject: user_id`): that
 * field and the held ids (raw, in memory only). A key whose field holds a held id exactly
 * is never deleted nor given a TTL. The scripts that change keys read the field themselves,
 * in the same atomic step as the change, so a field rewritten after the page was judged
 * is decided by what it holds at that moment.
 */
export interface FieldHold {
  field: string;
  held: readonly string[];
}

/**
 * The start of a script that respects a `FieldHold`: ARGV[1] is the field, ARGV[2] how
 * many held ids follow it. Defines `isHeld(key)` and `base`, the index after which the
 * script's own arguments start (its first is ARGV[base + 1]). Lua compares the field's
 * bytes with each id's UTF-8 bytes: exact.
 */
export const FIELD_HOLD_LUA = `
local holdField, holdCount = ARGV[1], tonumber(ARGV[2])
local heldIds = {}
for j = 3, 2 + holdCount do heldIds[ARGV[j]] = true end
local function isHeld(key)
  if holdCount == 0 then return false end
  local s = redis.pcall('HGET', key, holdField)
  return type(s) == 'string' and heldIds[s] == true
end
local base = 2 + holdCount
`;

/** The leading ARGV of a script starting with `FIELD_HOLD_LUA` (no hold: nothing is held). */
export function fieldHoldArgs(hold: FieldHold | null): string[] {
  return hold === null || hold.held.length === 0 ? ['', '0'] : [hold.field, String(hold.held.length), ...hold.held];
}

/**
 * For counting only (`plan`, a dry run): which of `keys` are held now. The change itself
 * decides again, atomically, in its script.
 */
export async function heldByField(redis: Redis, keys: readonly Buffer[], hold: FieldHold | null): Promise<boolean[]> {
  if (hold === null || hold.held.length === 0) return keys.map(() => false);
  const held = new Set(hold.held);
  return (await readAnchors(redis, keys, hold.field)).map((read) => read.kind === 'value' && held.has(read.text));
}
