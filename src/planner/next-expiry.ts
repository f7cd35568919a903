import { Info } from 'luxon';
import { parseRetain } from '../policy/duration.js';
import { expiredRanges, type AnchorRange } from '../policy/expiry.js';
import { expiresAt } from '../policy/expires-at.js';
import type { Rule } from '../policy/rule.js';

/**
 * Pure: when an item of a rule reaches the end of its retention period, judged exactly as
 * `planSweep` judges expiry, so that a sweep planned at that instant selects it. The
 * executor asks a store for anchors (`Store.nextExpiring`, `Store.oldestPending`); these
 * turn anchors into instants and back.
 */

/**
 * What these functions read of a rule: its period and zone, and whether it is a never-store
 * rule (`never: true`, whose zero period expires an item at its anchor: nothing here
 * divides by the period or assumes it positive).
 */
type RetainOf = Pick<Rule, 'retain' | 'timezone'> & Partial<Pick<Rule, 'never'>>;

/** The soonest a next-expiry sweep follows the previous sweep of its rule (see `coalescedInstant`). */
export const MIN_SWEEP_GAP_MS = 1_000;

/**
 * The same for a never-store rule (`never: true`): every row written to its table is due at
 * once (its anchor plus zero), so a table that keeps receiving rows would be swept, and an
 * incident recorded, about every MIN_SWEEP_GAP_MS. Held to a minute instead, the shortest
 * schedule a rule may have: a broken promise is still found within a minute, at most one
 * incident a minute.
 */
export const NEVER_STORE_MIN_SWEEP_GAP_MS = 60_000;

/** The gap `coalescedInstant` keeps between a rule's sweeps: see MIN_SWEEP_GAP_MS and NEVER_STORE_MIN_SWEEP_GAP_MS. */
export function minSweepGapMs(rule: Partial<Pick<Rule, 'never'>>): number {
  return rule.never === true ? NEVER_STORE_MIN_SWEEP_GAP_MS : MIN_SWEEP_GAP_MS;
}

/**
 * The instant (epoch ms) the item anchored at `anchor` expires under `rule`: `anchor +
 * retain` by luxon's calendar arithmetic in the rule's zone (`expiresAt`), so that
 * `inRanges(planSweep(rule, at).ranges, anchor)` holds exactly when `at >= expiryOf(...)`.
 * An anchor with digits below the millisecond (`ms + 0.5`) expires with the later
 * millisecond, as a sweep takes it.
 */
export function expiryOf(rule: RetainOf, anchor: number): number {
  return expiresAt(anchor, parseRetain(rule), rule.timezone);
}

/**
 * True when the expiry instant is ordered like the anchor, so the item with the smallest
 * anchor is the one that expires first: `retain` is hours, minutes and seconds (luxon adds
 * them as milliseconds), or days and weeks in a zone whose offset never changes (UTC:
 * every day is 24 hours). Otherwise it need not be: month-end clamping folds Jan 29, 30 and
 * 31 + P1M onto Feb 28 at their own times of day (an anchor of Jan 31 12:00 expires before
 * one of Jan 28 13:00), and a DST change makes a calendar day 23 or 25 hours. The reversal
 * is bounded (see `MAX_REVERSAL` in policy/expiry.ts), so `expiringBefore` finds the few
 * items that overtake the smallest anchor.
 */
export function expiryFollowsAnchor(rule: RetainOf): boolean {
  // As written, not normalized: luxon adds PT36H as 36 hours, where `isFixedLength` (which
  // shifts it to 1 day 12 hours) conservatively says calendar.
  const d = parseRetain(rule);
  if (d.years !== 0 || d.quarters !== 0 || d.months !== 0) return false;
  if (d.weeks === 0 && d.days === 0) return true;
  const zone = Info.normalizeZone(rule.timezone);
  return zone.isValid && zone.isUniversal;
}

/**
 * The anchors whose items expire strictly before `instant` (whole ms): the expired ranges
 * at `instant - 1`. An item found there, among those not yet expired at a sweep's `now`,
 * expires sooner than the one at `instant`.
 */
export function expiringBefore(rule: RetainOf, instant: number): AnchorRange[] {
  return expiredRanges(instant - 1, parseRetain(rule), rule.timezone);
}

/**
 * When to sweep for an item due at `due`: never sooner than `gapMs` after `previous` (the
 * instant the rule's last sweep was planned at, or now), so that items expiring every few
 * milliseconds are taken a second's worth at a time rather than by a sweep each.
 */
export function coalescedInstant(due: number, previous: number, gapMs = MIN_SWEEP_GAP_MS): number {
  return Math.max(due, previous + gapMs);
}

/**
 * The lag of a rule at `now`: how long ago the oldest expired item still present reached
 * its end (`end`, epoch ms), or 0 when none is left. What "deleted within seconds of the
 * promised date" is measured by.
 */
export function lagMs(now: number, end: number | null): number {
  return end === null ? 0 : Math.max(0, now - end);
}
