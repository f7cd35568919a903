import { Duration } from 'luxon';
import { describe, expect, it } from 'vitest';
import { expiredRanges } from '../../src/policy/expiry.js';
import { WALL_CLOCK_MARGIN_MS, whollyExpired } from '../../src/stores/postgres/partitions.js';
import { DROP_BATCH_PARTITIONS, DROP_BATCH_ROWS, dropGroups, mergedBounds } from '../../src/stores/postgres/partition-sweep.js';
import type { PartitionNode } from '../../src/stores/postgres/partitions.js';

/** Whether a partition's whole bound is expired, decided from the sweep's expired ranges alone. */

const at = (iso: string) => Date.parse(iso);
const bound = (from: string, to: string) => ({ lowerMs: at(from), upperMs: at(to) });

describe('a partition is wholly expired', () => {
  const ranges = [{ from: null, to: at('2024-03-01T00:00:00Z') }];

  it('when its upper bound (exclusive) is at most the end of the expired range', () => {
    expect(whollyExpired(bound('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'), ranges, 'timestamptz')).toBe(true);
  });

  it('not when one millisecond of it lies past the end', () => {
    expect(whollyExpired(bound('2024-02-01T00:00:00Z', '2024-03-01T00:00:00.001Z'), ranges, 'timestamptz')).toBe(false);
  });

  it('never for a MAXVALUE or infinity upper bound, nor an unreadable one', () => {
    expect(whollyExpired({ lowerMs: -Infinity, upperMs: Infinity }, ranges, 'timestamptz')).toBe(false);
    expect(whollyExpired({ lowerMs: Number.NaN, upperMs: Number.NaN }, ranges, 'timestamptz')).toBe(false);
  });

  it('with a MINVALUE lower bound only when the range is open below', () => {
    expect(whollyExpired({ lowerMs: -Infinity, upperMs: at('2024-01-01T00:00:00Z') }, ranges, 'timestamptz')).toBe(true);
    expect(whollyExpired({ lowerMs: -Infinity, upperMs: at('2024-01-01T00:00:00Z') }, [{ from: at('2023-01-01T00:00:00Z'), to: ranges[0]!.to }], 'timestamptz')).toBe(false);
  });

  it('for timestamp and date anchors, only with a day to spare on both sides', () => {
    const end = ranges[0]!.to;
    expect(whollyExpired({ lowerMs: end - 40 * 86_400_000, upperMs: end - WALL_CLOCK_MARGIN_MS }, ranges, 'timestamp')).toBe(true);
    expect(whollyExpired({ lowerMs: end - 40 * 86_400_000, upperMs: end - WALL_CLOCK_MARGIN_MS + 1 }, ranges, 'timestamp')).toBe(false);
    expect(whollyExpired({ lowerMs: end - 40 * 86_400_000, upperMs: end }, ranges, 'date')).toBe(false);
  });

  it('only inside one range: a bound spanning the unexpired gap between two is not', () => {
    // P1M at the end of March in UTC: anchors of Jan 29-31 are all due Feb 29 (2024): the
    // ranges have gaps, and a bound across one holds unexpired anchors.
    const split = [
      { from: null, to: at('2024-01-10T00:00:00Z') },
      { from: at('2024-01-12T00:00:00Z'), to: at('2024-01-20T00:00:00Z') },
    ];
    expect(whollyExpired(bound('2024-01-12T00:00:00Z', '2024-01-20T00:00:00Z'), split, 'timestamptz')).toBe(true);
    expect(whollyExpired(bound('2024-01-05T00:00:00Z', '2024-01-15T00:00:00Z'), split, 'timestamptz')).toBe(false);
  });

  it('judged against the ranges expiry.ts gives at a month end, where the naive cutoff would drop January too early', () => {
    // P1M: January 29, 30 and 31 are all due on February 29 (2024), each at its own time of
    // day. At Feb 29 12:00 the naive cutoff (now - P1M = Jan 29 12:00) is past January 29,
    // yet January 31 evening is not due: January is not wholly expired.
    const leap = expiredRanges(at('2024-02-29T12:00:00Z'), Duration.fromISO('P1M'), 'UTC');
    expect(whollyExpired(bound('2024-01-01T00:00:00Z', '2024-01-29T00:00:00Z'), leap, 'timestamptz')).toBe(true);
    expect(whollyExpired(bound('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'), leap, 'timestamptz')).toBe(false);
    // At Mar 1 00:00, February 1 itself is due: January goes whole.
    const next = expiredRanges(at('2024-03-01T00:00:00Z'), Duration.fromISO('P1M'), 'UTC');
    expect(whollyExpired(bound('2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'), next, 'timestamptz')).toBe(true);
  });

  it('not while its upper bound itself is not due, though every millisecond before it is', () => {
    // Bounds are exclusive, anchors microseconds: the ranges say nothing of the anchors
    // between their last millisecond and the bound, so the month waits for the bound (its
    // rows are deleted one by one meanwhile, on time).
    const ranges2 = expiredRanges(at('2024-03-31T23:59:59.999Z'), Duration.fromISO('P1M'), 'UTC');
    expect(ranges2[0]!.to).toBe(at('2024-02-29T23:59:59.999Z'));
    expect(whollyExpired(bound('2024-02-01T00:00:00Z', '2024-03-01T00:00:00Z'), ranges2, 'timestamptz')).toBe(false);
  });
});

describe('the bounds row batches leave to drop batches', () => {
  const node = (lowerText: string | null, upperText: string | null, lowerMs: number): PartitionNode =>
    ({ lowerText, upperText, lowerMs, upperMs: 0 }) as PartitionNode;

  it('merges adjacent partitions and keeps gaps apart', () => {
    const drops = [node("'2024-03-01'", "'2024-04-01'", 3), node("'2024-01-01'", "'2024-02-01'", 1), node("'2024-02-01'", "'2024-03-01'", 2), node("'2024-06-01'", "'2024-07-01'", 6)];
    expect(mergedBounds(drops)).toEqual([
      { from: "'2024-01-01'", to: "'2024-04-01'" },
      { from: "'2024-06-01'", to: "'2024-07-01'" },
    ]);
  });
});

describe('drop batches', () => {
  it('take partitions in order until the estimated rows or the partition cap, one too big goes alone', () => {
    const p = (estimate: number | null) => ({ estimate });
    expect(dropGroups([p(4_000_000), p(4_000_000), p(4_000_000), p(1)]).map((g) => g.length)).toEqual([2, 2]);
    // A partition never analyzed (no estimate) may be of any size: it goes alone.
    expect(dropGroups([p(1), p(null), p(1)]).map((g) => g.length)).toEqual([1, 1, 1]);
    expect(dropGroups(Array.from({ length: DROP_BATCH_PARTITIONS + 1 }, () => p(1))).map((g) => g.length)).toEqual([DROP_BATCH_PARTITIONS, 1]);
    // One partition bigger than the cap is a batch of its own.
    expect(dropGroups([p(1), p(DROP_BATCH_ROWS * 2), p(1)]).map((g) => g.length)).toEqual([1, 1, 1]);
    expect(dropGroups([])).toEqual([]);
  });
});
