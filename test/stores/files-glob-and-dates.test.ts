import { DateTime } from 'luxon';
import { describe, expect, it } from 'vitest';
import { anchorPatternProblem, filesTargetSchema, resolveFilesTarget } from '../../src/stores/files/files-target.js';
import { parsePathDate } from '../../src/stores/files/path-anchor.js';
import { globProblem, PathGlob } from '../../src/stores/files/path-glob.js';
import { inRangesNs } from '../../src/stores/files/files-store.js';
import type { ConfigProblem } from '../../src/errors.js';

const iso = (ns: bigint | null) => (ns === null ? null : new Date(Number(ns / 1_000_000n)).toISOString());

describe('the files glob', () => {
  it.each([
    ['photos/**/*.jpg', 'photos/a.jpg', true],
    ['photos/**/*.jpg', 'photos/2024/05/a.jpg', true],
    ['photos/**/*.jpg', 'photos/a.jpeg', false],
    ['photos/**/*.jpg', 'other/photos/a.jpg', false],
    ['photos/*.jpg', 'photos/2024/a.jpg', false],
    ['photos/*.{jpg,png}', 'photos/a.png', true],
    ['photos/[0-9][0-9][0-9][0-9]/*', 'photos/2024/a', true],
    ['photos/[!0-9]*/*', 'photos/2024/a', false],
    ['photos/?.jpg', 'photos/ab.jpg', false],
    ['**', 'a/b/c', true],
    ['**', '.env', false],
    ['**/*.jpg', 'a/.cache/x.jpg', false],
    ['.cache/*.jpg', '.cache/x.jpg', true],
    ['[.]x', '.x', false],
  ])('%s covers %s: %s', (pattern, path, covered) => {
    expect(PathGlob.compile(pattern).test(path)).toBe(covered);
  });

  it('knows when nothing below a directory can match, so the walk prunes it', () => {
    const glob = PathGlob.compile('photos/2024/*.jpg');
    const other = glob.step(glob.start(), 'videos');
    expect(glob.canDescend(other)).toBe(false);
    const photos = glob.step(glob.start(), 'photos');
    expect(glob.canDescend(photos)).toBe(true);
    expect([...glob.literalDirectories]).toEqual(['photos', 'photos/2024']);
  });

  it.each([
    ['', 'non-empty'],
    ['x[', 'without ]'],
    ['{a,b', 'without }'],
    ['a}', 'without {'],
    ['{a}', 'without a comma'],
    ['a**/b', '** stands for whole directories'],
    ['[b-a]', 'not a valid pattern'],
  ])('refuses %j', (pattern, message) => {
    expect(globProblem(pattern)).toContain(message);
  });
});

describe('dates read from paths', () => {
  it.each([
    ['2026-08-31', 'Europe/Berlin', '2026-08-30T22:00:00.000Z'],
    ['20260831', 'UTC', '2026-08-31T00:00:00.000Z'],
    ['2026-08-31T10:30', 'America/New_York', '2026-08-31T14:30:00.000Z'],
    ['2026-08-31 10:30:15', 'UTC', '2026-08-31T10:30:15.000Z'],
    ['20260831T103015', 'UTC', '2026-08-31T10:30:15.000Z'],
    ['2026-08-31T10:30:15Z', 'Asia/Tokyo', '2026-08-31T10:30:15.000Z'],
    ['2026-08-31T10:30-03:30', 'UTC', '2026-08-31T14:00:00.000Z'],
    // Berlin repeats 02:00-03:00 on Oct 25: the later reading (CET), never the earlier.
    ['2026-10-25T02:30', 'Europe/Berlin', '2026-10-25T01:30:00.000Z'],
    // ... and skips it on Mar 29: read with the offset from before the jump (later than the jump).
    ['2026-03-29T02:30', 'Europe/Berlin', '2026-03-29T01:30:00.000Z'],
  ])('%s in %s is %s', (text, zone, expected) => {
    expect(iso(parsePathDate(text, zone))).toBe(expected);
  });

  it.each(['2026', '2026-08', '2026-W35', '2026-243', '2026-02-29', '2026-02-30', '2026-13-01', '2026-08-31T24:00', '2026-08-31T23:59:60', '2026-08-31T10:30+19:00', '31.08.2026', '2026-08-31x', ' 2026-08-31'])(
    '%j is not a date',
    (text) => {
      expect(parsePathDate(text, 'UTC')).toBeNull();
    },
  );

  it('keeps sub-millisecond digits, so a fraction past a bound is past it', () => {
    const bound = DateTime.fromISO('2026-01-01T00:00:00Z').toMillis();
    const ns = parsePathDate('2026-01-01T00:00:00.0000001Z', 'UTC')!;
    expect(ns).toBe(BigInt(bound) * 1_000_000n + 100n);
    expect(inRangesNs([{ from: null, to: bound }], ns)).toBe(false);
    expect(inRangesNs([{ from: null, to: bound }], BigInt(bound) * 1_000_000n)).toBe(true);
    expect(inRangesNs([{ from: bound + 1, to: bound + 5 }], BigInt(bound + 1) * 1_000_000n - 1n)).toBe(false);
  });
});

describe('the files target', () => {
  it('requires a group in a path anchor and a real regular expression', () => {
    expect(anchorPatternProblem('\\d{4}-\\d{2}-\\d{2}')).toContain('has no group');
    expect(anchorPatternProblem('(\\d{4}')).toContain('is not a regular expression');
    expect(anchorPatternProblem('(\\d{4}-\\d{2}-\\d{2})')).toBeUndefined();
  });

  it('refuses anchorZone on an mtime anchor, and an unknown anchor', () => {
    const zoned = filesTargetSchema.safeParse({ path: 'a/*', anchor: 'mtime', anchorZone: 'Europe/Berlin' });
    expect(zoned.error?.issues.map((i) => i.path)).toEqual([['anchorZone']]);
    expect(filesTargetSchema.safeParse({ path: 'a/*', anchor: 'ctime' }).success).toBe(false);
    expect(filesTargetSchema.safeParse({ path: 'a/*', anchor: { path: '(x)', unit: 's' } }).success).toBe(false);
  });

  it('reads path dates in the rule zone, else the store zone, else the config timezone', () => {
    const resolve = (parsed: Parameters<typeof resolveFilesTarget>[0], storeConfig: object, problems: ConfigProblem[] = []) =>
      resolveFilesTarget(parsed, { path: 'rules[0]', storeConfig, timezone: 'Asia/Tokyo', numberSource: () => undefined, problems });
    const anchor = { path: '(\\d{8})' };
    expect(resolve({ path: 'a/*', anchor, anchorZone: 'Europe/Berlin' }, { root: '/x', anchorZone: 'UTC' }).anchorZone).toEqual({ name: 'Europe/Berlin', from: 'rule' });
    expect(resolve({ path: 'a/*', anchor }, { root: '/x', anchorZone: 'UTC' }).anchorZone).toEqual({ name: 'UTC', from: 'store' });
    expect(resolve({ path: 'a/*', anchor }, { root: '/x' }).anchorZone).toEqual({ name: 'Asia/Tokyo', from: 'timezone' });
    expect(resolve({ path: 'a/*', anchor: 'mtime' }, { root: '/x' })).toEqual({ path: 'a/*', anchor: { kind: 'mtime' }, anchorZone: null });
    const problems: ConfigProblem[] = [];
    resolve({ path: 'a/*', anchor, anchorZone: 'CET' }, { root: '/x' }, problems);
    expect(problems.map((p) => p.path)).toEqual(['rules[0].anchorZone']);
  });
});
