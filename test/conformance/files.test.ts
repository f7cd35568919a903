import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describeStoreKind, type ConformanceTarget } from './store-conformance.js';

/**
 * `kind: files` on a real directory: one file per item under `items/`. Beside the items, a
 * file the glob does not cover and a file outside the root, both old, which must stay.
 */
async function filesTarget(anchor: 'mtime' | 'path'): Promise<ConformanceTarget> {
  const base = await mkdtemp(join(tmpdir(), 'retention-conformance-'));
  const root = join(base, 'root');
  await mkdir(join(root, 'items'), { recursive: true });
  const old = new Date('2001-01-01T00:00:00Z');
  const sentinels = [join(root, 'items', 'notes.txt'), join(base, 'outside.jpg')];
  for (const file of sentinels) {
    await writeFile(file, 'x');
    await utimes(file, old, old);
  }
  const write = async (name: string, mtimeMs: number) => {
    const file = join(root, 'items', name);
    await writeFile(file, 'x');
    await utimes(file, mtimeMs / 1000, mtimeMs / 1000);
  };
  return {
    store: { kind: 'files', root },
    rule:
      anchor === 'mtime'
        ? { path: 'items/*.jpg', anchor: 'mtime' }
        : { path: 'items/*.jpg', anchor: { path: '--(\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z)\\.jpg$' } },
    async insert(items) {
      for (const item of items) {
        if (anchor === 'mtime') {
          if (typeof item.anchor !== 'number') throw new Error('every file has a modification time');
          await write(`${item.id}.jpg`, item.anchor);
        } else {
          // The mtime is old for every file: only the date in the name may decide.
          const date = item.anchor === 'missing' ? null : item.anchor === 'malformed' ? '2026-02-30T00:00:00.000Z' : new Date(item.anchor).toISOString();
          await write(date === null ? `${item.id}.jpg` : `${item.id}--${date}.jpg`, old.getTime());
        }
      }
    },
    async remaining() {
      const names = await readdir(join(root, 'items'));
      for (const file of sentinels) {
        const where = relative(root, file).startsWith('..') ? base : join(root, 'items');
        if (!(await readdir(where)).includes(file.slice(where.length + 1))) throw new Error(`${file} was touched`);
      }
      return names.filter((n) => n.endsWith('.jpg')).map((n) => n.replace(/(--.*)?\.jpg$/, ''));
    },
    broken: { store: { root: join(base, 'missing') }, names: /stores\.data: files store data cannot open \S+\/missing \(stores\.data\.root in / },
    cleanup: () => rm(base, { recursive: true, force: true }),
  };
}

describeStoreKind({
  title: 'files (date in the path)',
  kind: 'files',
  // A name without the date and one with a date that does not exist are both malformed.
  unjudged: { missing: 'malformed anchor', malformed: 'malformed anchor' },
  anonymize: false,
  create: () => filesTarget('path'),
});

describeStoreKind({
  title: 'files (mtime)',
  kind: 'files',
  unjudged: {},
  anonymize: false,
  create: () => filesTarget('mtime'),
});
