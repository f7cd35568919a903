import { expiringBefore, expiryFollowsAnchor, expiryOf, lagMs } from '../planner/next-expiry.js';
import type { AnchorRange } from '../policy/expiry.js';
import type { Rule } from '../policy/rule.js';
import type { Runtime } from '../runtime/runtime.js';
import { exceptHeld, expired, type Selection } from '../stores/selection.js';
import type { Store } from '../stores/store.js';

/**
 * How many times the search for an earlier expiry narrows (see `earliest`): each round
 * finds an item that expires strictly sooner than the last, and with calendar periods only
 * the items of a day or two near a month end or a DST change can; past this the soonest
 * found is used (a sweep a little late, never early).
 */
const MAX_REFINEMENTS = 16;

/** When a rule's next item expires: the item's anchor and the instant (epoch ms) a sweep selects it. */
export interface NextExpiry {
  anchor: number;
  at: number;
}

/**
 * The soonest instant, after the sweep whose expired anchor ranges were `ranges`, at which
 * another of the rule's items expires: the item the store finds first (`nextExpiring`:
 * the smallest anchor not in `ranges`) and, when expiry is not ordered like the anchor
 * (calendar periods), any item that overtakes it. Null when the rule has no item left to
 * expire, or its store cannot tell (a kind without `nextExpiring`).
 *
 * The instant is `expiryOf(anchor)`, so a sweep planned at it selects the item: it can be
 * already past (an item that expired while the sweep ran), never one a sweep would skip.
 */
export async function nextExpiry(runtime: Runtime, rule: Rule, ranges: readonly AnchorRange[]): Promise<NextExpiry | null> {
  const store = runtime.storeFor(rule);
  if (!store.nextExpiring) return null;
  const probe = store.nextExpiring.bind(store) as NonNullable<Store['nextExpiring']>;
  return earliest(rule, await probe(rule, ranges), (before) => probe(rule, ranges, before));
}

/** What a sweep's lag was when planned: 0 and no end when nothing expired was left. */
export interface SweepLag {
  /** `now` minus the end of the oldest expired item's retention period, in ms. */
  lagMs: number;
  /** That end, ISO; null when no expired item was present. */
  oldestExpiredEnd: string | null;
}

/**
 * The rule's lag at `now`, with the expired anchor ranges of `now`: how long ago the oldest
 * expired item still present reached its end. Items of the subjects in `held` (raw ids,
 * kept by a legal hold) are left out when given; without them a held item counts, as it is
 * past its date. Null when the store cannot tell (a kind without `oldestPending`).
 *
 * One index probe where the anchor is indexed (two with calendar periods). For an
 * anonymize rule the probe passes over the rows already anonymized, which stay: it reads
 * them in anchor order up to the first one still to do.
 *
 * For the metrics of the operations issue, too: this is the function an exporter calls.
 */
export async function sweepLag(runtime: Runtime, rule: Rule, now: Date, ranges: readonly AnchorRange[], held: readonly string[] = []): Promise<SweepLag | null> {
  const store = runtime.storeFor(rule);
  if (!store.oldestPending) return null;
  const probe = store.oldestPending.bind(store) as NonNullable<Store['oldestPending']>;
  const context = runtime.contextFor(rule);
  const select = (r: readonly AnchorRange[]): Selection => exceptHeld(expired(r), held);
  const oldest = await earliest(rule, await probe(rule, select(ranges), context), (before) => probe(rule, select(before), context));
  const lag = lagMs(now.getTime(), oldest?.at ?? null);
  return { lagMs: lag, oldestExpiredEnd: oldest ? new Date(oldest.at).toISOString() : null };
}

/**
 * The item that expires first, from the one with the smallest anchor (`anchor`): while
 * some item expires strictly before the soonest found (`before(expiringBefore(...))`
 * returns its anchor), that one. With a fixed-length period no item can.
 */
async function earliest(rule: Rule, anchor: number | null, before: (ranges: AnchorRange[]) => Promise<number | null>): Promise<NextExpiry | null> {
  if (anchor === null) return null;
  let best: NextExpiry = { anchor, at: expiryOf(rule, anchor) };
  if (expiryFollowsAnchor(rule)) return best;
  for (let i = 0; i < MAX_REFINEMENTS; i++) {
    const sooner = await before(expiringBefore(rule, best.at));
    if (sooner === null) break;
    const at = expiryOf(rule, sooner);
    // expiringBefore holds only anchors expiring strictly sooner; the check keeps a store
    // that returned something else from looping.
    if (!(at < best.at)) break;
    best = { anchor: sooner, at };
  }
  return best;
}
