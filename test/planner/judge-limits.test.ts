import { describe, expect, it } from 'vitest';
import { judgeLimits } from '../../src/planner/blast-radius.js';

/**
 * Issue 8: the fraction limit counts the table only as far as it must. An exact count of a
 * 400M-row table at every steady-state sweep would make each sweep cost the table.
 */
describe('judging the limits with bounded counting', () => {
  const limits = { maxRowsPerRun: null, maxFraction: 0.2 };

  it('does not count the table when the fraction cannot apply', async () => {
    const asked: (number | undefined)[] = [];
    const total = async (atLeast?: number) => (asked.push(atLeast), 10);
    expect(await judgeLimits(limits, 1000, total)).toEqual({ reason: null, total: null });
    expect(await judgeLimits({ maxRowsPerRun: null, maxFraction: 1 }, 50_000, total)).toEqual({ reason: null, total: null });
    expect(asked).toEqual([]);
  });

  it('counts only up to the size that settles the fraction', async () => {
    const asked: (number | undefined)[] = [];
    // A table of 4M rows, counted up to what was asked.
    const total = async (atLeast?: number) => (asked.push(atLeast), Math.min(4_000_000, atLeast ?? Infinity));
    expect(await judgeLimits(limits, 5000, total)).toEqual({ reason: null, total: 25_001 });
    expect(asked).toEqual([25_001]);
  });

  it('blocks on the exact total when the table is smaller than that', async () => {
    const total = async (atLeast?: number) => Math.min(20_000, atLeast ?? Infinity);
    const judged = await judgeLimits(limits, 5000, total);
    expect(judged.total).toBe(20_000);
    expect(judged.reason).toMatch(/would change 5000 of 20000 rows \(25%\), more than maxFraction 0.2/);
    // 5000 of 25,000 is exactly 20%: allowed, as exceedsLimits allows it.
    expect((await judgeLimits(limits, 5000, async (atLeast) => Math.min(25_000, atLeast ?? Infinity))).reason).toBeNull();
  });

  it('counts the whole table for a sweep blocked by maxRowsPerRun, to show it', async () => {
    const asked: (number | undefined)[] = [];
    const total = async (atLeast?: number) => (asked.push(atLeast), 4_000_000);
    const judged = await judgeLimits({ maxRowsPerRun: 100, maxFraction: 0.2 }, 5000, total);
    expect(judged).toEqual({ reason: 'would change 5000 rows, more than maxRowsPerRun 100', total: 4_000_000 });
    expect(asked).toEqual([undefined]);
  });

  it('counts the whole table when the bound would be too big to ask for (a tiny maxFraction)', async () => {
    const asked: (number | undefined)[] = [];
    const total = async (atLeast?: number) => (asked.push(atLeast), 4_000_000);
    const judged = await judgeLimits({ maxRowsPerRun: null, maxFraction: 1e-16 }, 1001, total);
    expect(asked).toEqual([undefined]);
    expect(judged.reason).toMatch(/more than maxFraction/);
  });
});
