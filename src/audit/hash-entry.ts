import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';

/** The `prev_hash` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

/** sha256 over the previous hash, the position, the time and the content. */
export function hashEntry(prevHash: string, seq: number, at: string, entry: unknown): string {
  return createHash('sha256').update(`${prevHash}\n${seq}\n${at}\n${canonicalJson(entry)}`).digest('hex');
}
