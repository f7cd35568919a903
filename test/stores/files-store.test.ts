import { existsSync } from 'node:fs';
import { lstat, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DateTime, Duration } from 'luxon';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { expiredRanges } from '../../src/policy/expiry.js';
import { expired } from '../../src/stores/selection.js';
import { CONTEXT, DAY, filesRule, olderThan, sandbox, sweep, type Sandbox } from './files-fixture.js';

let box: Sandbox;

beforeEach(async () => {
  box = await sandbox();
});

afterEach(async () => {
  await box.remove();
});

const at = (iso: string) => DateTime.fromISO(iso, { zone: 'UTC' }).toMillis();

describe('the files store, by modification time', () => {
  it('deletes a file whose mtime is exactly at the end of its period and keeps one a millisecond later', async () => {
    // Aug 31 + P6M is Feb 28 (clamped): due at Feb 28 12:00, as luxon computes it.
    const now = at('2027-02-28T12:00:00');
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'UTC');
    const due = await box.file('photos/due.jpg', at('2026-08-31T12:00:00.000'));
    const justAfter = await box.file('photos/just-after.jpg', at('2026-08-31T12:00:00.001'));
    const old = await box.file('photos/old.jpg', at('2025-01-01T00:00:00'));
    // Aug 29 18:00 + P6M = Feb 28 18:00: six hours to go, although it is older than `due`.
    const notYet = await box.file('photos/not-yet.jpg', at('2026-08-29T18:00:00'));
    const rule = filesRule();

    expect(await box.store().count(rule, expired(ranges), CONTEXT)).toBe(2);
    expect(await sweep(box.store(), rule, ranges)).toBe(2);
    expect(existsSync(due)).toBe(false);
    expect(existsSync(old)).toBe(false);
    expect(existsSync(justAfter)).toBe(true);
    expect(existsSync(notYet)).toBe(true);
  });

  it('never counts a fraction of a millisecond past the upper bound as the bound itself', async () => {
    const bound = at('2026-01-01T00:00:00');
    const onBound = await box.file('a/on-bound.jpg', bound);
    const fraction = await box.file('a/fraction.jpg', bound + 0.5);
    const fractionNs = (await lstat(fraction, { bigint: true })).mtimeNs;
    // The file system kept the fraction: its floor is the bound, its value is past it.
    expect(fractionNs / 1_000_000n).toBe(BigInt(bound));
    expect(fractionNs % 1_000_000n).toBeGreaterThan(0n);

    const rule = filesRule();
    expect(await box.store().count(rule, olderThan(bound), CONTEXT)).toBe(1);
    expect(await sweep(box.store(), rule, [{ from: null, to: bound }])).toBe(1);
    expect(existsSync(onBound)).toBe(false);
    expect(existsSync(fraction)).toBe(true);
  });

  it('takes a file exactly at a lower bound, and not one a fraction of a millisecond before it', async () => {
    const from = at('2026-01-01T00:00:00');
    const to = from + DAY;
    const onFrom = await box.file('on-from.jpg', from);
    const justBefore = await box.file('just-before.jpg', from - 0.5);
    const onTo = await box.file('on-to.jpg', to);
    const after = await box.file('after.jpg', to + 1);

    expect(await sweep(box.store(), filesRule(), [{ from, to }])).toBe(2);
    expect(existsSync(onFrom)).toBe(false);
    expect(existsSync(onTo)).toBe(false);
    expect(existsSync(justBefore)).toBe(true);
    expect(existsSync(after)).toBe(true);
  });

  it('counts in a dry run exactly what a real run then deletes, and a dry run deletes nothing', async () => {
    const old = Date.now() - 400 * DAY;
    const young = Date.now() - DAY;
    for (let i = 0; i < 7; i++) await box.file(`p/${i % 3}/old-${i}.jpg`, old);
    for (let i = 0; i < 4; i++) await box.file(`p/${i % 2}/young-${i}.jpg`, young);
    await box.file('p/0/old.png', old); // outside the glob
    const rule = filesRule({ path: 'p/**/*.jpg' }, { batchSize: 3 });
    const ranges = [{ from: null, to: Date.now() - 180 * DAY }];

    const counted = await box.store().count(rule, expired(ranges), CONTEXT);
    const dry = await sweep(box.store(), rule, ranges, true);
    expect(await box.store().total(rule)).toBe(11);
    const real = await sweep(box.store(), rule, ranges);
    expect([counted, dry, real]).toEqual([7, 7, 7]);
    expect(await box.store().total(rule)).toBe(4);
    expect(existsSync(join(box.root, 'p/0/old.png'))).toBe(true);
  });
});

describe('the files store, by a date in the path', () => {
  const byDate = (anchorZone = 'Europe/Berlin') =>
    filesRule({ path: 'scans/**/*.pdf', anchor: { kind: 'path', pattern: '(\\d{4}-\\d{2}-\\d{2})' }, anchorZone: { name: anchorZone, from: 'rule' } });

  it('reads the date as midnight in the anchor zone, so the zone decides the day it is due', async () => {
    // Aug 31 00:00 Berlin + P6M = Feb 28 00:00 Berlin = Feb 27 23:00 UTC: due exactly now.
    const now = DateTime.fromISO('2027-02-28T00:00:00', { zone: 'Europe/Berlin' }).toMillis();
    const ranges = expiredRanges(now, Duration.fromISO('P6M'), 'Europe/Berlin');
    const due = await box.file('scans/2026-08-31/contract.pdf');
    const nextDay = await box.file('scans/2026-09-01/contract.pdf');

    // Read in UTC, Aug 31 00:00Z + P6M is an hour after now: kept.
    expect(await box.store().count(byDate('UTC'), expired(expiredRanges(now, Duration.fromISO('P6M'), 'UTC')), CONTEXT)).toBe(0);
    expect(await box.store().count(byDate(), expired(ranges), CONTEXT)).toBe(1);
    expect(await sweep(box.store(), byDate(), ranges)).toBe(1);
    expect(existsSync(due)).toBe(false);
    expect(existsSync(nextDay)).toBe(true);
  });

  it('ignores the modification time of a file aged by its path', async () => {
    const fresh = await box.file('scans/2020-01-01/a.pdf', Date.now());
    const dated = await box.file('scans/2030-01-01/b.pdf', Date.now() - 3000 * DAY);
    expect(await sweep(box.store(), byDate(), [{ from: null, to: Date.now() }])).toBe(1);
    expect(existsSync(fresh)).toBe(false);
    expect(existsSync(dated)).toBe(true);
  });

  it('counts a path without a date, or with one that is not a real date, as malformed and never deletes it', async () => {
    const ranges = [{ from: null, to: Date.now() }];
    const kept = [
      await box.file('scans/undated/a.pdf'),
      await box.file('scans/2026-02-30/b.pdf'),
      await box.file('scans/2026-13-01/c.pdf'),
      await box.file('scans/0000-00-00/d.pdf'),
    ];
    const good = await box.file('scans/2020-02-29/e.pdf');
    const yearOnly = filesRule({ path: 'scans/**/*.pdf', anchor: { kind: 'path', pattern: '(\\d{4})' }, anchorZone: { name: 'UTC', from: 'rule' } });

    expect(await box.store().unjudged(byDate())).toEqual({ 'malformed anchor': 4 });
    expect(await box.store().count(byDate(), expired(ranges), CONTEXT)).toBe(1);
    // A year alone would start the period on Jan 1: it is malformed, not a date.
    expect(await box.store().count(yearOnly, expired(ranges), CONTEXT)).toBe(0);
    expect(await sweep(box.store(), byDate(), ranges)).toBe(1);
    expect(existsSync(good)).toBe(false);
    for (const path of kept) expect(existsSync(path), path).toBe(true);
  });

  it('reads a date-time with an offset as written, whatever the zone', async () => {
    const rule = filesRule({ path: '*.log', anchor: { kind: 'path', pattern: '^app-(.*)\\.log$' }, anchorZone: { name: 'America/New_York', from: 'rule' } });
    const instant = at('2026-05-01T10:00:00');
    await box.file('app-2026-05-01T12:00:00+02:00.log');
    await box.file('app-2026-05-01T10:00:00.001Z.log');
    expect(await box.store().count(rule, olderThan(instant), CONTEXT)).toBe(1);
    expect(await box.store().unjudged(rule)).toEqual({});
  });
});

describe('the files store, cleaning up', () => {
  it('removes directories a deletion leaves empty, but not the rule\'s literal directory or the root', async () => {
    const old = Date.now() - 400 * DAY;
    await box.file('photos/2023/01/a.jpg', old);
    await box.file('photos/2024/05/b.jpg', old);
    const kept = await box.file('photos/2024/06/c.jpg');
    await sweep(box.store(), filesRule({ path: 'photos/**/*.jpg' }), [{ from: null, to: Date.now() - DAY }]);

    expect(existsSync(kept)).toBe(true);
    expect(existsSync(join(box.root, 'photos/2023'))).toBe(false);
    expect(existsSync(join(box.root, 'photos/2024/05'))).toBe(false);
    expect(await readdir(join(box.root, 'photos'))).toEqual(['2024']);

    await rm(kept);
    await box.file('photos/2024/06/c.jpg', old);
    await sweep(box.store(), filesRule({ path: 'photos/**/*.jpg' }), [{ from: null, to: Date.now() - DAY }]);
    expect(await readdir(join(box.root, 'photos'))).toEqual([]);
  });

  it('stops at the root when the glob starts with a wildcard, and never removes the root', async () => {
    const old = Date.now() - 400 * DAY;
    await box.file('a/b/c/x.jpg', old);
    await box.file('y.jpg', old);
    await sweep(box.store(), filesRule({ path: '**/*.jpg' }), [{ from: null, to: Date.now() }]);
    expect(await readdir(box.root)).toEqual([]);
    expect((await lstat(box.root)).isDirectory()).toBe(true);
  });

  it('keeps a directory that still holds a file the glob does not cover', async () => {
    const old = Date.now() - 400 * DAY;
    await box.file('d/e/x.jpg', old);
    const other = await box.file('d/notes.txt', old);
    await sweep(box.store(), filesRule({ path: '**/*.jpg' }), [{ from: null, to: Date.now() }]);
    expect(existsSync(join(box.root, 'd/e'))).toBe(false);
    expect(existsSync(other)).toBe(true);
  });
});

describe('the files store, partitioned', () => {
  it('cuts the files into ranges of batchSize that cover each file exactly once, in path order', async () => {
    const old = Date.now() - 400 * DAY;
    // `a-b` sorts before `a/...` (- < /): the walk's order must agree with the ranges'.
    const names = ['a-b.jpg', 'a/1.jpg', 'a/2.jpg', 'a/b/3.jpg', 'a0.jpg', 'b/4.jpg', 'b/5.jpg', 'c.jpg'];
    for (const name of names) await box.file(name, old);
    const rule = filesRule({ path: '**/*.jpg' }, { batchSize: 3 });
    const store = box.store();
    const selection = expired([{ from: null, to: Date.now() }]);
    const ranges = await store.partition(rule, selection);
    expect([...names].sort()).toEqual(names);
    expect(ranges).toEqual([
      { after: null, upTo: 'a/2.jpg' },
      { after: 'a/2.jpg', upTo: 'b/4.jpg' },
      { after: 'b/4.jpg', upTo: null },
    ]);
    const perBatch = [];
    for (const keyRange of ranges) perBatch.push((await store.apply({ rule, selection, keyRange, dryRun: false, context: CONTEXT })).rows);
    expect(perBatch).toEqual([3, 3, 2]);
    expect(await readdir(box.root)).toEqual([]);
  });
});

describe('the files store, when the root is not usable', () => {
  it('reports a missing root as a user error naming the store and the path', async () => {
    await rm(box.root, { recursive: true });
    const failure = box.store().count(filesRule(), olderThan(Date.now()), CONTEXT);
    await expect(failure).rejects.toBeInstanceOf(UserError);
    await expect(failure).rejects.toThrow(`files store uploads cannot open ${box.root} (stores.uploads.root in test.yaml): no such directory (ENOENT)`);
    const problems = await box.store().inspect(filesRule(), 'rules[0]', CONTEXT);
    expect(problems).toEqual([{ path: 'rules[0].store', message: expect.stringContaining('no such directory') }]);
  });

  it('reports a root that is a file as a user error', async () => {
    await rm(box.root, { recursive: true });
    await writeFile(box.root, 'not a directory');
    await expect(box.store().ping()).rejects.toThrow(/not a directory \(ENOTDIR\)/);
  });

  it('counts a file that vanished meanwhile as gone, without failing', async () => {
    const path = await box.file('x/a.jpg', Date.now() - 400 * DAY);
    await rm(path);
    expect(await sweep(box.store(), filesRule(), [{ from: null, to: Date.now() }])).toBe(0);
  });

  it('says at check that a files rule cannot anonymize, by rule and field', async () => {
    const rule = filesRule({}, { action: 'anonymize', anonymize: [{ column: 'name', strategy: 'redact' }] });
    const problems = await box.store().inspect(rule, 'rules[3]', CONTEXT);
    expect(problems.map((p) => p.path)).toEqual(['rules[3].action', 'rules[3].anonymize.name']);
  });
});

