import { describe, expect, it } from 'vitest';
import { coalescedInstant, expiringBefore, expiryFollowsAnchor, expiryOf } from '../../src/planner/next-expiry.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { inRanges } from '../../src/policy/expiry.js';
import { testRule } from '../helpers/test-rule.js';

/**
 * A never-store rule's zero period (`retain: PT0S`) in the planner and next-expiry
 * scheduling: an item expires at its own anchor, in any zone; nothing divides by the
 * period or assumes it positive.
 */

const never = (timezone: string) => testRule({ id: 'face-data', store: 'app', kind: 'postgres', target: {} }, { retain: 'PT0S', never: true, timezone });
const NOW = Date.parse('2026-03-29T01:30:00Z');

describe('retain PT0S', () => {
  for (const zone of ['UTC', 'Europe/Berlin', 'America/Argentina/Buenos_Aires']) {
    it(`selects every anchor up to the sweep's now and none after (${zone}, across a DST change)`, () => {
      const { ranges } = planSweep(never(zone), new Date(NOW));
      expect(ranges).toEqual([{ from: null, to: NOW }]);
      expect(inRanges(ranges, NOW)).toBe(true);
      expect(inRanges(ranges, NOW + 1)).toBe(false);
      expect(inRanges(ranges, Date.parse('1970-01-01T00:00:00Z'))).toBe(true);
    });

    it(`expires an item at its anchor, ordered like the anchor (${zone})`, () => {
      const rule = never(zone);
      expect(expiryOf(rule, NOW + 4_000)).toBe(NOW + 4_000);
      // Digits below the millisecond: due with the later millisecond, never early.
      expect(expiryOf(rule, NOW + 0.5)).toBe(NOW + 1);
      expect(expiryFollowsAnchor(rule)).toBe(true);
      expect(expiringBefore(rule, NOW)).toEqual([{ from: null, to: NOW - 1 }]);
      expect(coalescedInstant(expiryOf(rule, NOW), NOW)).toBe(NOW + 1_000);
    });
  }

  it('is refused by the planner for a rule that is not a never-store rule', () => {
    const slip = testRule({ id: 'logs', store: 'app', kind: 'postgres', target: {} }, { retain: 'PT0S' });
    expect(() => planSweep(slip, new Date(NOW))).toThrow(/is zero/);
    expect(() => expiryOf(slip, NOW)).toThrow(/is zero/);
  });

  it('is refused for such a rule even when a never-store rule planned the same period first with a shared cache', () => {
    const cache = new Map();
    expect(planSweep(never('UTC'), new Date(NOW), cache).ranges).toEqual([{ from: null, to: NOW }]);
    const slip = testRule({ id: 'logs', store: 'app', kind: 'postgres', target: {} }, { retain: 'PT0S' });
    expect(() => planSweep(slip, new Date(NOW), cache)).toThrow(/is zero/);
  });
});
