import type { BigIntStats, Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyRange } from '../store.js';
import type { GlobState, PathGlob } from './path-glob.js';

/** Why a path the glob covers is not an item, as `unjudged` reports it. */
export const SYMLINK = 'symlink';
export const NOT_A_REGULAR_FILE = 'not a regular file';
export const UNDECODABLE_NAME = 'undecodable name';

/** What the walk hands its visitor, in the order of relative paths (UTF-16 code units). */
export type WalkEntry =
  /** A regular file the glob matches, with its `lstat` (nanosecond times, inode). */
  | { kind: 'file'; relative: string; stats: BigIntStats }
  /** A path the glob covers that is never judged, and why. */
  | { kind: 'unjudged'; relative: string; reason: string };

/** A failure reading a directory below the root, for the store to turn into a message. */
export class WalkError extends Error {
  constructor(
    readonly code: string,
    cause: unknown,
  ) {
    super(`cannot read a directory under the store root (${code})`, { cause });
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const LOSSY = new TextDecoder('utf-8');

/**
 * Visits every path under `realRoot` the glob covers, in order, within `range` (`after <
 * relative <= upTo`, relative paths compared as strings). Never follows a symbolic link:
 * a link the glob covers (to a file or to a directory) is reported as unjudged, not
 * entered; only real directories are descended, and only those below which the glob can
 * still match. Directories entirely outside the range are not read.
 *
 * Siblings are visited in the order of their full relative paths: a directory `a` sorts
 * as `a/`, so its files come after a sibling file `a-b` (`-` < `/`) as their paths do.
 *
 * A directory that vanishes or stops being one while the walk runs is skipped; any other
 * failure to read one throws a `WalkError` carrying its code (never its name: paths can
 * hold personal data).
 */
export async function walkFiles(
  realRoot: string,
  glob: PathGlob,
  range: KeyRange,
  visit: (entry: WalkEntry) => Promise<void>,
): Promise<void> {
  await walkDirectory(realRoot, '', glob.start(), glob, range, visit);
}

type Step = 'continue' | 'stop';

async function walkDirectory(
  realRoot: string,
  directory: string,
  state: GlobState,
  glob: PathGlob,
  range: KeyRange,
  visit: (entry: WalkEntry) => Promise<void>,
): Promise<Step> {
  let dirents: Dirent<Buffer>[];
  try {
    dirents = await readdir(join(realRoot, directory), { withFileTypes: true, encoding: 'buffer' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'EIO';
    if (directory !== '' && (code === 'ENOENT' || code === 'ENOTDIR')) return 'continue';
    throw new WalkError(code, error);
  }
  const described = await Promise.all(dirents.map((dirent) => describe(dirent, realRoot, directory)));
  const entries = described.sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));

  for (const entry of entries) {
    const next = glob.step(state, entry.name);
    const covered = glob.matches(next);
    const below = glob.canDescend(next);
    if (!covered && !below) continue;
    if (range.upTo !== null && entry.order > range.upTo && !(entry.isDirectory && range.upTo.startsWith(entry.order))) return 'stop';
    if (range.after !== null && entry.order <= range.after && !(entry.isDirectory && range.after.startsWith(entry.order))) continue;

    if (entry.undecodable) {
      await visit({ kind: 'unjudged', relative: entry.relative, reason: UNDECODABLE_NAME });
      continue;
    }
    if (entry.isSymlink) {
      await visit({ kind: 'unjudged', relative: entry.relative, reason: SYMLINK });
      continue;
    }
    if (entry.isDirectory) {
      if (below && (await walkDirectory(realRoot, entry.relative, next, glob, range, visit)) === 'stop') return 'stop';
      continue;
    }
    if (!covered) continue;
    let stats: BigIntStats;
    try {
      stats = await lstat(join(realRoot, entry.relative), { bigint: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue; // gone meanwhile: nothing to judge
      throw new WalkError(code ?? 'EIO', error);
    }
    if (stats.isSymbolicLink()) await visit({ kind: 'unjudged', relative: entry.relative, reason: SYMLINK });
    else if (stats.isDirectory()) {
      // Its type was unknown to readdir (or it was replaced): descend now that lstat says it is a real directory.
      if (below && (await walkDirectory(realRoot, entry.relative, next, glob, range, visit)) === 'stop') return 'stop';
    } else if (!stats.isFile()) await visit({ kind: 'unjudged', relative: entry.relative, reason: NOT_A_REGULAR_FILE });
    else if (inRange(entry.relative, range)) await visit({ kind: 'file', relative: entry.relative, stats });
  }
  return 'continue';
}

interface Entry {
  name: string;
  relative: string;
  /** The relative path, with a `/` after a directory's: the order of everything below it. */
  order: string;
  isDirectory: boolean;
  isSymlink: boolean;
  undecodable: boolean;
}

async function describe(dirent: Dirent<Buffer>, realRoot: string, directory: string): Promise<Entry> {
  let name: string;
  let undecodable = false;
  try {
    name = UTF8.decode(dirent.name);
  } catch {
    // A name that is not UTF-8 cannot be named again through a string path without
    // reaching a different file: it is reported, never judged.
    name = LOSSY.decode(dirent.name);
    undecodable = true;
  }
  const relative = directory === '' ? name : `${directory}/${name}`;
  let isDirectory = dirent.isDirectory();
  let isSymlink = dirent.isSymbolicLink();
  if (!undecodable && !knownType(dirent)) {
    // The file system did not say (DT_UNKNOWN): ask, so that the order is right.
    const stats = await lstat(join(realRoot, relative)).catch(() => null);
    isDirectory = stats?.isDirectory() ?? false;
    isSymlink = stats?.isSymbolicLink() ?? false;
  }
  return { name, relative, order: isDirectory ? `${relative}/` : relative, isDirectory, isSymlink, undecodable };
}

function knownType(d: Dirent<Buffer>): boolean {
  return d.isFile() || d.isDirectory() || d.isSymbolicLink() || d.isFIFO() || d.isSocket() || d.isBlockDevice() || d.isCharacterDevice();
}

function inRange(relative: string, range: KeyRange): boolean {
  return (range.after === null || relative > range.after) && (range.upTo === null || relative <= range.upTo);
}
