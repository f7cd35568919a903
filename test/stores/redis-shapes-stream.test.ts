import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { DateTime } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AnchorRange } from '../../src/policy/expiry.js';
import { ENTRY_BUDGET, idRanges, leadingMinId, StreamShape, TRIM_BUDGET } from '../../src/stores/redis/stream-shape.js';
import { deleteKeysMatching } from '../helpers/redis-keys.js';
import { REDIS_URL } from '../helpers/test-env.js';

let redis: Redis;
let monitor: Redis | null;
let prefix: string;

beforeEach(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  monitor = null;
  prefix = `rst_${randomBytes(5).toString('hex')}`;
});

afterEach(async () => {
  monitor?.disconnect();
  await deleteKeysMatching(redis, `${prefix}:*`);
  redis.disconnect();
});

const key = (name: string) => `${prefix}:events:${name}`;
const buffers = (...names: string[]) => names.map((n) => Buffer.from(key(n)));
const at = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' }).toMillis();

async function add(name: string, ...ids: string[]): Promise<void> {
  for (const id of ids) await redis.xadd(key(name), id, 'user', 'u1');
}

async function ids(name: string): Promise<string[]> {
  return (await redis.xrange(key(name), '-', '+')).map(([id]) => id);
}

/** The commands Redis ran, as MONITOR reports them (scripts' own calls included). */
async function watchCommands(): Promise<string[]> {
  const seen: string[] = [];
  monitor = await redis.monitor();
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => a.includes(prefix))) seen.push(args.join(' '));
  });
  return seen;
}

describe('stream entries (anchor: stream-id)', () => {
  it('trims a leading expired range with XTRIM MINID, exactly up to and including the bound millisecond', async () => {
    const bound = at('2026-06-01T00:00:00');
    await add('s', `${bound - 1}-99`, `${bound}-0`, `${bound}-5`, `${bound + 1}-0`, `${bound + 2}-3`);
    const shape = new StreamShape();
    const ranges = [{ from: null, to: bound }];
    expect((await shape.count(redis, buffers('s'), ranges)).items).toBe(3);
    const seen = await watchCommands();
    expect((await shape.apply(redis, buffers('s'), ranges)).items).toBe(3);
    expect(await ids('s')).toEqual([`${bound + 1}-0`, `${bound + 2}-3`]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.some((c) => /^XTRIM \S+ MINID \d+$/.test(c) && c.endsWith(` ${bound + 1}`))).toBe(true);
    expect(seen.some((c) => c.startsWith('XDEL'))).toBe(false);
  });

  it('trims a long leading backlog in bounded steps (whole nodes first), ending exactly at the bound', async () => {
    const base = at('2026-06-01T00:00:00');
    const n = TRIM_BUDGET * 2 + 777;
    const pipeline = redis.pipeline();
    for (let i = 0; i < n + 10; i++) pipeline.xadd(key('s'), `${base + Math.floor(i / 4)}-${i % 4}`, 'user', 'u');
    await pipeline.exec();
    // The bound falls inside a millisecond's run of four ids: all four of it go, none of the next.
    const bound = base + Math.floor((n - 1) / 4);
    const expected = (Math.floor((n - 1) / 4) + 1) * 4;
    const seen = await watchCommands();
    expect((await new StreamShape().apply(redis, buffers('s'), [{ from: null, to: bound }])).items).toBe(expected);
    expect(await redis.xlen(key('s'))).toBe(n + 10 - expected);
    expect((await ids('s'))[0]).toBe(`${bound + 1}-0`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.filter((c) => c.startsWith('XTRIM') && c.includes(' ~ ')).length).toBeGreaterThan(1);
  });

  it('deletes entries in several ranges with XDEL, bounds inclusive, and nothing between them', async () => {
    const a = at('2026-06-01T00:00:00');
    const b = at('2026-06-03T00:00:00');
    const c = at('2026-06-04T00:00:00');
    const ranges: AnchorRange[] = [{ from: null, to: a }, { from: b, to: c }];
    const all = [a - 1, a, a + 1, b - 1, b, b + 1, c - 1, c, c + 1].flatMap((ms) => [`${ms}-0`, `${ms}-1`]);
    await add('s', ...all);
    const expected = all.filter((id) => {
      const ms = Number(id.split('-')[0]);
      return ms <= a || (ms >= b && ms <= c);
    });
    const shape = new StreamShape();
    expect((await shape.count(redis, buffers('s'), ranges)).items).toBe(expected.length);
    const seen = await watchCommands();
    expect((await shape.apply(redis, buffers('s'), ranges)).items).toBe(expected.length);
    expect(await ids('s')).toEqual(all.filter((id) => !expected.includes(id)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.some((cmd) => cmd.startsWith('XDEL'))).toBe(true);
  });

  it('deletes a range holding more entries than one call reads, page by page', async () => {
    const base = at('2026-06-01T00:00:00');
    const n = ENTRY_BUDGET * 2 + 321;
    const pipeline = redis.pipeline();
    for (let i = 0; i < n; i++) pipeline.xadd(key('s'), `${base + Math.floor(i / 3)}-${i % 3}`, 'user', 'u');
    for (let i = 0; i < 5; i++) pipeline.xadd(key('s'), `${base + 1_000_000 + i}-0`, 'user', 'u');
    await pipeline.exec();
    const ranges = [{ from: base - 5, to: base + 1_000_000 - 1 }]; // not leading: XDEL
    const shape = new StreamShape();
    expect((await shape.count(redis, buffers('s'), ranges)).items).toBe(n);
    expect((await shape.apply(redis, buffers('s'), ranges)).items).toBe(n);
    expect(await redis.xlen(key('s'))).toBe(5);
  });

  it('keeps and counts entries with implausible ids, and then trims the rest entry by entry', async () => {
    const now = Date.now();
    await add('s', '1-1', '5-0', `${Date.UTC(2000, 0, 1) - 1}-0`, `${Date.UTC(2000, 0, 1)}-0`, `${now - 5_000}-0`, `${now + 60_000}-0`, `${Date.UTC(2100, 0, 1)}-0`);
    const shape = new StreamShape();
    expect(await shape.unjudged(redis, buffers('s'))).toEqual({ 'implausible anchor': 4 });
    const seen = await watchCommands();
    const applied = await shape.apply(redis, buffers('s'), [{ from: null, to: now }]);
    expect(applied).toEqual({ items: 2, unjudged: { 'implausible anchor': 4 }, ttls: 0 });
    expect(await ids('s')).toEqual(['1-1', '5-0', `${Date.UTC(2000, 0, 1) - 1}-0`, `${now + 60_000}-0`, `${Date.UTC(2100, 0, 1)}-0`]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(seen.some((c) => c.startsWith('XTRIM'))).toBe(false);
  });

  it('counts keys that are not streams and never touches them', async () => {
    const old = String(Date.now() - 86_400_000);
    await redis.hset(key('hash'), 'at', old);
    await redis.zadd(key('zset'), old, 'm');
    await redis.set(key('string'), old);
    const shape = new StreamShape();
    const applied = await shape.apply(redis, buffers('hash', 'zset', 'string', 'missing'), [{ from: null, to: Date.now() }]);
    expect(applied).toEqual({ items: 0, unjudged: { 'not a stream': 3 }, ttls: 0 });
    expect(await redis.hget(key('hash'), 'at')).toBe(old);
    expect(await redis.zcard(key('zset'))).toBe(1);
    expect(await redis.get(key('string'))).toBe(old);
  });

  it('totals the entries of its streams only', async () => {
    await add('a', '1700000000000-0', '1700000000001-0');
    await add('b', '1700000000000-0');
    await redis.set(key('string'), 'x');
    expect(await new StreamShape().total(redis, buffers('a', 'b', 'string'))).toBe(3);
  });
});

describe('idRanges and leadingMinId', () => {
  it('bound each millisecond range by its first and last possible ids', () => {
    expect(idRanges([{ from: 1_767_225_600_000, to: 1_767_225_600_999 }]).expired).toEqual([
      { start: '1767225600000-0', end: '1767225600999-18446744073709551615' },
    ]);
    expect(leadingMinId({ from: null, to: 1_767_225_600_999 })).toBe('1767225601000');
    expect(leadingMinId({ from: 5, to: 1_767_225_600_999 })).toBeNull();
    expect(leadingMinId({ from: null, to: Date.UTC(2100, 0, 1) })).toBeNull();
  });
});
