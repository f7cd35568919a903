import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A directory the package ships beside its code (`jobs`, `src/state/migrations`), found
 * from the calling module (`import.meta.url`) by walking up to the nearest directory that
 * holds it. The same call works from the sources (src/queue/ finds <root>/jobs) and from
 * the bundle npm installs, whose modules sit in chunks wherever the bundler put them
 * (dist/src/chunks/ finds dist/jobs): a path fixed relative to one file would break the day
 * the bundler moved that file's code to another chunk. Throws naming what is missing.
 */
export function packageDir(from: string, relative: string): string {
  const start = dirname(fileURLToPath(from));
  for (let dir = start; ; dir = dirname(dir)) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    // Never past the package's own root: an application's jobs/ above it is not ours to load.
    if (existsSync(join(dir, 'package.json')) || dirname(dir) === dir) {
      throw new Error(`${relative}/ not found above ${start}: the package is incomplete (rebuild it: npm run build)`);
    }
  }
}
