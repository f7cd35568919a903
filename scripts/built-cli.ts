import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** What `npm run build` (scripts/build.mjs) makes: the bin package.json ships. */
export const BUILT_CLI = join(ROOT, 'dist', 'src', 'cli', 'bin.js');
/** Written last by scripts/build.mjs: a whole build, made at its mtime. */
const BUILD_STAMP = join(ROOT, 'dist', '.build-complete');
/** What the build reads: a change to any of them makes dist/ stale. */
const INPUTS = ['src', 'jobs', 'package.json', 'package-lock.json', 'scripts/build.mjs'];

/** The newest modification time (ms) of a file under `path`. */
function newest(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), stats.mtimeMs);
}

/** Why dist/ cannot be used as it is (missing, half built, older than a source), or null. */
export function staleBuild(): string | null {
  if (!existsSync(BUILD_STAMP)) return 'dist/ is missing (or was not built whole)';
  const built = statSync(BUILD_STAMP).mtimeMs;
  const changed = INPUTS.filter((input) => newest(join(ROOT, input)) > built);
  return changed.length > 0 ? `dist/ is older than ${changed.join(', ')}` : null;
}

/**
 * The built `retention` for the demo and the benchmarks: dist/src/cli/bin.js, built first
 * (`npm run build`, ~10 s) when dist/ is missing or older than the sources, so that what
 * runs is what is checked out, as the tests' tsx entry guarantees. `npm ci` builds it
 * (`prepare`); this catches the edits made since.
 */
export function builtCli(say: (line: string) => void = console.log): string {
  const stale = staleBuild();
  if (stale !== null) {
    say(`${stale}: building it (npm run build)`);
    try {
      execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
      throw new Error(`npm run build failed (its output is above); the built CLI in dist/ cannot be used until it builds`);
    }
  }
  return BUILT_CLI;
}
