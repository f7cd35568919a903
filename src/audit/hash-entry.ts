import { createHash, createHmac } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** The `prev_hash` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** What an entry's hash covers: the previous hash, the position, the time and the content. */
function chained(prevHash: string, seq: number, at: string, entry: unknown): string {
  return `${prevHash}\n${seq}\n${at}\n${canonicalJson(entry)}`;
}

/**
 * HMAC-SHA256 of the chained text under the chain key (`derivedKey(auditKey, 'chain')`).
 * Someone who can write to the database but does not hold the key cannot make an edited
 * entry, or a re-chained tail, that verifies.
 */
export function macEntry(chainKey: Buffer, prevHash: string, seq: number, at: string, entry: unknown): string {
  return createHmac('sha256', chainKey).update(chained(prevHash, seq, at, entry)).digest('hex');
}

/**
 * The unkeyed sha256 of entries written before the chain was keyed (legacy entries).
 * Anyone can recompute it: such entries show reordering and removal, not rewriting.
 */
export function hashEntry(prevHash: string, seq: number, at: string, entry: unknown): string {
  return createHash('sha256').update(chained(prevHash, seq, at, entry)).digest('hex');
}
