import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Rule } from '../../src/policy/rule.js';
import { expired, type Selection } from '../../src/stores/selection.js';
import type { FilesTarget } from '../../src/stores/files/files-target.js';
import { FilesStore } from '../../src/stores/files/files-store.js';
import type { AnchorRange } from '../../src/policy/expiry.js';
import { testRule } from '../helpers/test-rule.js';

export const CONTEXT = { hmacKey: null, timezone: 'UTC' };
export const DAY = 86_400_000;

/** A fresh directory per test (root and a sibling "outside" tree), removed afterwards. */
export interface Sandbox {
  /** Holds `root` and `outside`. */
  base: string;
  root: string;
  outside: string;
  store(): FilesStore;
  /** Writes a file under the root (directories made), with the modification time given (epoch ms, may be fractional). */
  file(relative: string, mtimeMs?: number, under?: string): Promise<string>;
  remove(): Promise<void>;
}

export async function sandbox(): Promise<Sandbox> {
  const base = await mkdtemp(join(tmpdir(), 'retention-files-'));
  const root = join(base, 'root');
  const outside = join(base, 'outside');
  await mkdir(root);
  await mkdir(outside);
  return {
    base,
    root,
    outside,
    store: () => new FilesStore('uploads', root, 'stores.uploads.root in test.yaml'),
    async file(relative, mtimeMs = Date.now(), under = root) {
      const path = join(under, relative);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, 'x');
      await utimes(path, mtimeMs / 1000, mtimeMs / 1000);
      return path;
    },
    remove: () => rm(base, { recursive: true, force: true }),
  };
}

export function filesRule(target: Partial<FilesTarget> = {}, overrides: Partial<Rule<FilesTarget>> = {}): Rule<FilesTarget> {
  return testRule({ id: 'uploads', store: 'uploads', kind: 'files', target: { path: '**/*.jpg', anchor: { kind: 'mtime' }, anchorZone: null, ...target } }, overrides);
}

export const olderThan = (to: number): Selection => expired([{ from: null, to }]);

/** Runs every batch of `partition` (dry or real) and adds up what they did. */
export async function sweep(store: FilesStore, rule: Rule<FilesTarget>, ranges: readonly AnchorRange[], dryRun = false): Promise<number> {
  const selection = expired(ranges);
  let rows = 0;
  for (const keyRange of await store.partition(rule, selection)) {
    rows += (await store.apply({ rule, selection, keyRange, dryRun, context: CONTEXT })).rows;
  }
  return rows;
}
