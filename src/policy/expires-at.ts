import { DateTime, IANAZone, Info, type Duration, type Zone } from 'luxon';

/**
 * The instant (epoch ms) an item anchored at `anchor` reaches the end of its retention
 * period: `anchor + retain` by luxon's calendar arithmetic in `zone`, exactly as
 * `expiredRanges` computes it, so that `expiresAt(a) <= now` exactly when `a` lies in
 * `expiredRanges(now, retain, zone)`. A Redis TTL (`action: expire`) is set to this.
 *
 * An anchor with digits below the millisecond (`ms + 0.5`, see src/stores/anchor-text.ts) is due
 * when all of the millisecond it lies in is: the later of the two whole milliseconds'
 * expiries, so a TTL never fires before the item's own instant.
 */
export function expiresAt(anchor: number, retain: Duration, zone: string): number {
  const tz = zoneOf(zone);
  const expiry = (a: number): number => DateTime.fromMillis(a, { zone: tz }).plus(retain).toMillis();
  const low = Math.floor(anchor);
  return low === anchor ? expiry(anchor) : Math.max(expiry(low), expiry(low + 1));
}

/** The zone as `expiredRanges` reads it: UTC (and GMT) as luxon's fixed-offset zone, else IANA. */
function zoneOf(zone: string): Zone {
  const iana = IANAZone.create(zone);
  if (!iana.isValid) throw new Error(`unknown time zone ${JSON.stringify(zone)}`);
  const fixed = Info.normalizeZone(zone);
  return fixed.isUniversal ? fixed : iana;
}
