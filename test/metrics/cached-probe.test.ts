import { describe, expect, it } from 'vitest';
import { CachedProbe } from '../../src/metrics/cached-probe.js';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A reading that counts its calls and takes `ms`, failing when `fail` says so. */
function reading(ms: number, fail = () => false) {
  const calls = { n: 0 };
  const read = async () => {
    calls.n++;
    await sleep(ms);
    if (fail()) throw new Error('the server refused');
    return calls.n;
  };
  return { calls, read };
}

describe('a reading taken on scrape', () => {
  it('is served from the cache while fresh, and read again once stale', async () => {
    const { calls, read } = reading(0);
    const probe = new CachedProbe(read, { ttlMs: 100, timeoutMs: 1_000 });
    expect(await probe.get()).toBe(1);
    expect(await probe.get()).toBe(1);
    expect(calls.n).toBe(1);
    await sleep(120);
    expect(await probe.get()).toBe(2);
  });

  it('gives no value to a scrape that waits longer than the timeout, and the late value to the next', async () => {
    const { calls, read } = reading(200);
    const probe = new CachedProbe(read, { ttlMs: 10_000, timeoutMs: 50 });
    const started = Date.now();
    expect(await probe.get()).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(150);
    // A second scrape while the first reading runs joins it rather than starting another.
    expect(await probe.get()).toBeUndefined();
    expect(calls.n).toBe(1);
    await sleep(250);
    expect(await probe.get()).toBe(1);
    expect(calls.n).toBe(1);
  });

  it('gives no value after a failed reading, and does not ask again before the pause is over', async () => {
    let failing = true;
    const { calls, read } = reading(0, () => failing);
    const probe = new CachedProbe(read, { ttlMs: 100, timeoutMs: 1_000 });
    expect(await probe.get()).toBeUndefined();
    expect(await probe.get()).toBeUndefined();
    expect(calls.n).toBe(1);
    failing = false;
    await sleep(120);
    expect(await probe.get()).toBe(2);
  });
});
