import { readdir, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SUBJECT_PLACEHOLDER, type Rule } from '../../src/policy/rule.js';
import type { FilesStore } from '../../src/stores/files/files-store.js';
import type { FilesTarget } from '../../src/stores/files/files-target.js';
import { everything, exceptHeld, expired, type Selection } from '../../src/stores/selection.js';
import { CONTEXT, DAY, filesRule, sandbox, type Sandbox } from './files-fixture.js';

/**
 * A sunset's selection (`all`) on a files store, against the real file system: every file
 * the glob covers whatever its anchor (an old or new modification time, a path date that
 * does not match or is no real date), held subjects' files kept and counted; what the glob
 * does not cover, symbolic links and what lies outside the root never touched.
 */

let box: Sandbox;
beforeEach(async () => {
  box = await sandbox();
});
afterEach(async () => {
  await box.remove();
});

async function run(store: FilesStore, rule: Rule<FilesTarget>, selection: Selection): Promise<{ rows: number; held: number }> {
  const total = { rows: 0, held: 0 };
  for (const keyRange of await store.partition(rule, selection)) {
    const result = await store.apply({ rule, selection, keyRange, dryRun: false, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
  }
  return total;
}

async function left(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe('files: a sunset selects every file of the rule, whatever its anchor', () => {
  it('deletes every file the glob covers, new ones and those whose path date cannot be read, in short batches', async () => {
    const byPathDate = filesRule(
      { path: 'scans/**/*.pdf', anchor: { kind: 'path', pattern: '(\\d{4}-\\d{2}-\\d{2})' }, anchorZone: { name: 'UTC', from: 'rule' } },
      { batchSize: 100 },
    );
    for (let i = 0; i < 120; i++) await box.file(`scans/2020-01-01/old-${i}.pdf`);
    await box.file('scans/2099-12-31/future.pdf');
    await box.file('scans/undated/a.pdf');
    await box.file('scans/2026-02-30/not-a-day.pdf');
    await box.file('scans/2020-01-01/keep.txt');
    await box.file('secret.pdf', Date.now(), box.outside);
    await symlink(join(box.outside, 'secret.pdf'), join(box.root, 'scans', 'link.pdf'));
    const store = box.store();
    expect(await store.unjudged(byPathDate)).toEqual({ 'malformed anchor': 2, symlink: 1 });
    expect(await store.count(byPathDate, expired([{ from: null, to: Date.now() }]), CONTEXT)).toBe(120);
    expect(await store.count(byPathDate, everything(), CONTEXT)).toBe(123);
    expect((await store.partition(byPathDate, everything())).length).toBeGreaterThan(1);
    expect(await run(store, byPathDate, everything())).toEqual({ rows: 123, held: 0 });
    expect(await left(box.root)).toEqual(['scans/2020-01-01/keep.txt', 'scans/link.pdf']);
    expect(await left(box.outside)).toEqual(['secret.pdf']);
  });

  it("keeps held subjects' files and counts them", async () => {
    const people = filesRule({ path: 'photos/{subject}/*.jpg' }, { subject: SUBJECT_PLACEHOLDER });
    await box.file('photos/u1/a.jpg', Date.now() - 400 * DAY);
    await box.file('photos/u1/b.jpg', Date.now());
    await box.file('photos/u2/c.jpg', Date.now());
    await box.file('photos/u3/d.jpg', Date.now());
    const store = box.store();
    const selection = exceptHeld(everything(), ['u2']);
    expect(await store.count(people, selection, CONTEXT)).toBe(3);
    expect(await run(store, people, selection)).toEqual({ rows: 3, held: 1 });
    expect(await left(box.root)).toEqual(['photos/u2/c.jpg']);
  });

  it('refuses held subjects on a rule that cannot tell whose its files are', async () => {
    await box.file('photos/a.jpg');
    await expect(box.store().count(filesRule({ path: 'photos/*.jpg' }), exceptHeld(everything(), ['u1']), CONTEXT)).rejects.toThrow(/cannot tell whose files are/);
    expect(await left(box.root)).toEqual(['photos/a.jpg']);
  });
});
