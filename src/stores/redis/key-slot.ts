/** Hash slots of a Redis Cluster: every key lies in one of them. */
export const SLOTS = 16_384;

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** CRC16-XMODEM (polynomial 0x1021, initial 0), as Redis Cluster computes it, one byte at a time. */
const TABLE = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8;
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  return crc;
});

/**
 * The hash slot of a key (bytes, exactly as stored), by Redis Cluster's rule: when the key
 * holds `{` followed later by `}` with at least one byte between, only those bytes (the
 * hash tag) are hashed, so `{user:1}:a` and `{user:1}:b` share a slot. A Lua script on a
 * cluster may only touch keys of one slot, so a page of keys is split by this.
 */
export function keySlot(key: Buffer): number {
  let start = 0;
  let end = key.length;
  const open = key.indexOf(OPEN);
  if (open >= 0) {
    const close = key.indexOf(CLOSE, open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ key[i]!) & 0xff]!;
  return crc % SLOTS;
}
