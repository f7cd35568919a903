import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import pg from 'pg';

/**
 * LetsAI's ID photo files: each row of `letsai_id_photos` with a `file_path` owns the file
 * at that path under the photos store's root, and the rule deletes it with its row (the
 * rule's `cascade:`). The demo writes one file per such row, plus files no row owns
 * (`letsai/samples/`) and one file outside the root, which a row names with `../` (a path
 * from the database is untrusted: the cascade must refuse it and leave the file).
 *
 * The root is the demo's own: `/tmp/<queue prefix>-photos` by default. The reset deletes it
 * whole, so it refuses any root not named so, or one that is a symbolic link or belongs
 * to another user.
 */

/** Files under the root that no row owns: never touched by the cascade. */
const SAMPLES = ['letsai/samples/passport-35x45.jpg', 'letsai/samples/visa-33x48.jpg', 'letsai/samples/id-card-26x32.jpg'];
/** Parallel writes while building. */
const WRITES_IN_FLIGHT = 32;
/** The bytes of every demo photo: no picture, no personal data. */
const PHOTO = 'demo ID photo: no real image, no personal data\n';

/** What the demo reads on disk and in the table. */
export interface PhotoSurvey {
  /** Regular files under the root. */
  files: number;
  /** Rows naming a file under the root (`file_path` set and not the planted escape). */
  owningRows: number;
  /** Files no row names and that are not the planted samples: a row deleted without its file. Must be 0. */
  orphans: number;
  /** Rows whose file is gone: a file deleted while its row stays. Must be 0. */
  missing: number;
  /** The planted samples still there. */
  samples: number;
  /** The file outside the root, which a row names with `../`, still there (1) or not (0). */
  outside: number;
}

export interface DemoPhotos {
  readonly root: string;
  /** `letsai_id_photos`, schema-qualified and quoted. */
  readonly table: string;
  build(): Promise<{ files: number; escapeRowId: string | null }>;
  survey(): Promise<PhotoSurvey>;
}

/** Why the demo will not delete and rebuild `root`, or null when it is its own. */
export async function photoRootProblem(root: string): Promise<string | null> {
  if (!/^\/tmp\/[A-Za-z0-9_-]*demo[A-Za-z0-9_-]*-photos$/.test(root)) {
    return `the photos store's root is ${root}; the demo deletes and rebuilds it, so it must be /tmp/<a name containing "demo">-photos`;
  }
  for (const path of [root, outsideDir(root)]) {
    const stats = await lstat(path).catch(() => null);
    if (stats === null) continue;
    if (!stats.isDirectory()) return `${path} exists and is not a directory (a symbolic link?); the demo will not delete it`;
    if (typeof process.getuid === 'function' && stats.uid !== process.getuid()) return `${path} belongs to another user (uid ${stats.uid}); the demo will not delete it`;
  }
  return null;
}

/** Beside the root, outside it: the file a hostile `file_path` points at. */
const outsideDir = (root: string) => `${root}-outside`;

/**
 * The photo files of `schema.letsai_id_photos` under `root`. `db` runs with the demo's
 * session settings.
 */
export function idPhotoFiles(db: pg.Client, schema: string, root: string): DemoPhotos {
  const table = `${pg.escapeIdentifier(schema)}.letsai_id_photos`;
  const outsideFile = join(outsideDir(root), 'not-a-photo-of-this-store.jpg');
  const escapePath = `../${basename(outsideDir(root))}/${basename(outsideFile)}`;
  return {
    root,
    table,
    async build() {
      const problem = await photoRootProblem(root);
      if (problem) throw new Error(problem);
      await rm(root, { recursive: true, force: true });
      await rm(outsideDir(root), { recursive: true, force: true });
      await mkdir(root, { mode: 0o700 });
      await mkdir(outsideDir(root), { mode: 0o700 });
      await writeFile(outsideFile, PHOTO);
      // One expired photo's row names a file outside the root: the cascade must refuse it.
      const { rows: escape } = await db.query<{ id: string }>(
        `UPDATE ${table} SET file_path = $1
          WHERE id = (SELECT min(id) FROM ${table} WHERE file_path IS NOT NULL AND paid_at < now() - interval '1 year')
          RETURNING id`,
        [escapePath],
      );
      const { rows } = await db.query<{ file_path: string }>(`SELECT file_path FROM ${table} WHERE file_path IS NOT NULL AND file_path <> $1`, [escapePath]);
      const paths = [...rows.map((r) => r.file_path), ...SAMPLES];
      for (const dir of new Set(paths.map((p) => dirname(join(root, p))))) await mkdir(dir, { recursive: true, mode: 0o700 });
      let next = 0;
      const write = async () => {
        while (next < paths.length) await writeFile(join(root, paths[next++]!), PHOTO);
      };
      await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, write));
      return { files: paths.length, escapeRowId: escape[0]?.id ?? null };
    },
    async survey() {
      const onDisk = new Set(await regularFiles(root));
      const { rows } = await db.query<{ file_path: string }>(`SELECT file_path FROM ${table} WHERE file_path IS NOT NULL AND file_path <> $1`, [escapePath]);
      const named = new Set(rows.map((r) => r.file_path));
      const samples = SAMPLES.filter((p) => onDisk.has(p)).length;
      let orphans = 0;
      for (const path of onDisk) if (!named.has(path) && !SAMPLES.includes(path)) orphans++;
      let missing = 0;
      for (const path of named) if (!onDisk.has(path)) missing++;
      const outside = (await lstat(outsideFile).catch(() => null))?.isFile() ? 1 : 0;
      return { files: onDisk.size, owningRows: named.size, orphans, missing, samples, outside };
    },
  };
}

/** Paths of the regular files under `dir`, relative to it (symbolic links are not followed). */
async function regularFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await regularFiles(join(dir, entry.name), relative)));
    else if (entry.isFile()) out.push(relative);
  }
  return out;
}
