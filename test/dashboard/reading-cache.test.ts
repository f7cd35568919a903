import { describe, expect, it } from 'vitest';
import { ReadingCache } from '../../src/dashboard/reading-cache.js';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

describe('ReadingCache', () => {
  it('a reload storm costs one reading: concurrent and later requests within the TTL share it', async () => {
    const time = clock();
    let reads = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const cache = new ReadingCache(async () => {
      reads++;
      await gate;
      return `reading ${reads}`;
    }, 15_000, time.now);
    const storm = Array.from({ length: 50 }, () => cache.get());
    release();
    const results = await Promise.all(storm);
    expect(reads).toBe(1);
    expect(new Set(results.map((r) => r.value))).toEqual(new Set(['reading 1']));
    time.advance(14_999);
    expect((await cache.get()).value).toBe('reading 1');
    expect(reads).toBe(1);
    time.advance(1);
    expect(await cache.get()).toEqual({ value: 'reading 2', readAt: time.now(), error: null });
    expect(reads).toBe(2);
  });

  it('a failed reading keeps the last good value beside the error, is not retried within the TTL, and clears once a reading succeeds', async () => {
    const time = clock();
    let fail = false;
    let reads = 0;
    const cache = new ReadingCache(async () => {
      reads++;
      if (fail) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      return reads;
    }, 10_000, time.now);
    const first = await cache.get();
    expect(first).toEqual({ value: 1, readAt: time.now(), error: null });
    const goodAt = time.now();

    fail = true;
    time.advance(10_000);
    expect(await cache.get()).toEqual({ value: 1, readAt: goodAt, error: 'connect ECONNREFUSED 127.0.0.1:5432' });
    time.advance(5_000);
    await Promise.all(Array.from({ length: 20 }, () => cache.get()));
    expect(reads).toBe(2);

    fail = false;
    time.advance(5_000);
    expect(await cache.get()).toEqual({ value: 3, readAt: time.now(), error: null });
  });

  it('with no good reading yet, a failure has no value', async () => {
    const cache = new ReadingCache<number>(async () => Promise.reject(new Error('state database down')), 10_000);
    expect(await cache.get()).toEqual({ value: null, readAt: null, error: 'state database down' });
  });

  it('a long-lived cache remembers a failure for its shorter failure period only, then reads again', async () => {
    const time = clock();
    let fail = false;
    let reads = 0;
    const cache = new ReadingCache(async () => {
      reads++;
      if (fail) throw new Error('state database down');
      return reads;
    }, 300_000, time.now, 15_000);
    expect((await cache.get()).value).toBe(1);
    time.advance(300_000);
    fail = true;
    expect(await cache.get()).toMatchObject({ value: 1, error: 'state database down' });
    fail = false;
    time.advance(14_999);
    expect((await cache.get()).error).toBe('state database down');
    time.advance(1);
    expect(await cache.get()).toEqual({ value: 3, readAt: time.now(), error: null });
    // A good reading is kept for the whole period.
    time.advance(299_999);
    expect((await cache.get()).value).toBe(3);
  });
});
