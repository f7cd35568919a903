import { lstat, realpath, rmdir, unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';

/** What deleting one path under a root did: deleted it, found it already gone, or refused (why). */
export type ConfinedDeletion = 'deleted' | 'missing' | { refused: string };

/** The file a sweep judged, to delete only while it is still that file, unchanged. */
export interface JudgedFile {
  dev: bigint;
  ino: bigint;
  /**
   * Its inode change time: a file deleted and another written at the same path may reuse
   * the inode number, but not keep the change time (any write, rename or chmod moves it).
   */
  ctimeNs: bigint;
  /** The modification time it was judged by (mtime anchors); null when the anchor is in the path. */
  mtimeNs: bigint | null;
}

export interface RemoveOptions {
  /** Delete only while the path is still this file (same device, inode and change time; same mtime). */
  judged?: JudgedFile;
  /** Relative directories never removed when they become empty (a rule's literal base). */
  keep?: ReadonlySet<string>;
}

/**
 * Why `relative` cannot name a file under a root, or undefined when it can: it must be
 * relative, without `.`/`..` or empty segments, and without NUL. Paths that come from a
 * database (cascades) are untrusted input and pass through here like config globs do.
 */
export function relativePathProblem(relative: string): string | undefined {
  if (relative.length === 0) return 'empty path';
  if (relative.includes('\0')) return 'path contains NUL';
  if (isAbsolute(relative)) return 'absolute path';
  for (const segment of relative.split('/')) {
    if (segment === '..') return 'path contains ..';
    if (segment === '.' || segment === '') return 'path contains an empty or "." segment';
  }
  return undefined;
}

/**
 * Deletes the regular file at `relativePath` under `root`, then its parent directories
 * that are left empty, up to and never including the root. Nothing outside the root is
 * touched: the path is refused when it is absolute or has `..`, when it or any directory
 * on the way is a symbolic link (its real path must be exactly the root's real path plus
 * the relative path), and when it is not a regular file. A path already gone is
 * `missing`, which a caller counts as deleted.
 *
 * For the row-to-file cascade, whose paths come from the database. `keep`: relative
 * directories to leave even when empty. Throws when the root cannot be resolved, and on
 * failures other than "already gone" (EACCES, EROFS...).
 */
export async function deleteConfined(root: string, relativePath: string, keep: ReadonlySet<string> = new Set()): Promise<ConfinedDeletion> {
  const problem = relativePathProblem(relativePath);
  if (problem) return { refused: problem };
  const outcome = await removeUnder(await realpath(root), relativePath, { keep });
  return outcome === 'changed' ? { refused: 'changed while being deleted' } : outcome;
}

/**
 * `deleteConfined` below a root already resolved with `realpath`, for a sweep: with
 * `judged`, the file is deleted only while it is still the file that was judged
 * (`changed` otherwise). Failures other than "already gone" (EACCES, EROFS...) are thrown.
 */
export async function removeUnder(realRoot: string, relative: string, options: RemoveOptions): Promise<ConfinedDeletion | 'changed'> {
  const problem = relativePathProblem(relative);
  if (problem) return { refused: problem };
  const path = join(realRoot, relative);

  // Every directory on the way must be a real directory under the root: a symbolic link
  // among them (placed there, or swapped in since the walk) would lead outside it.
  let real: string;
  try {
    real = await realpath(path);
  } catch (error) {
    if (isGone(error)) return 'missing';
    throw error;
  }
  if (real !== path) return { refused: 'a symbolic link on the way' };

  let stats;
  try {
    stats = await lstat(path, { bigint: true });
  } catch (error) {
    if (isGone(error)) return 'missing';
    throw error;
  }
  if (stats.isSymbolicLink()) return { refused: 'symlink' };
  if (!stats.isFile()) return { refused: 'not a regular file' };
  const judged = options.judged;
  if (judged && (stats.dev !== judged.dev || stats.ino !== judged.ino || stats.ctimeNs !== judged.ctimeNs || (judged.mtimeNs !== null && stats.mtimeNs !== judged.mtimeNs))) {
    return 'changed';
  }

  try {
    await unlink(path);
  } catch (error) {
    if (isGone(error)) return 'missing';
    throw error;
  }
  await removeEmptyParents(realRoot, relative, options.keep ?? new Set());
  return 'deleted';
}

/**
 * Removes the directories above `relative` while they are empty, deepest first, stopping
 * at the first that is not empty, is kept, or is not a real directory under the root. The
 * root itself is never a candidate. Best effort: a directory that cannot be removed stays.
 */
async function removeEmptyParents(realRoot: string, relative: string, keep: ReadonlySet<string>): Promise<void> {
  const segments = relative.split('/');
  for (let depth = segments.length - 1; depth >= 1; depth--) {
    const directory = segments.slice(0, depth).join('/');
    if (keep.has(directory)) return;
    const path = join(realRoot, directory);
    try {
      if ((await realpath(path)) !== path) return;
      await rmdir(path);
    } catch {
      return; // not empty (ENOTEMPTY), gone, not a directory, or not ours to remove
    }
  }
}

function isGone(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
