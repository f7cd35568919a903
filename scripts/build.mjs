#!/usr/bin/env node
// `npm run build` (and `prepare`, so `npm ci` builds): bundles the CLI and the job kinds to
// JavaScript in dist/ with esbuild, then copies what is not code: the state database's SQL
// migrations.
//
// A bundle, not one file per source file: most of a command's start-up was Node resolving
// and loading several hundred small module files (zod, yaml, ioredis, pg, bullmq and ours),
// not running them; one bundle with shared chunks starts `check` and `run` about a third
// faster (docs/benchmarks.md, "Start-up"). The entry points are the bin and every file in
// jobs/ (the worker loads job kinds from dist/jobs/ as it does from jobs/), split into shared
// chunks so a job and the bin share one copy of every module: a second copy would have its
// own caches and its own error classes. Packages loaded only by some configs or some
// commands (the AWS SDK, mysql2, date-holidays, cli-progress), pino (its transports run
// files of their own in worker threads) and Bull Board (it reads its UI's files from its own
// package) stay in node_modules, imported as before.
//
// Code finds the directories shipped beside it (jobs/, src/state/migrations/) by walking up
// from itself (src/package-path.ts), so it does not matter which chunk holds it.
//
// `node scripts/build.mjs DIR` builds into DIR instead (the built-CLI test builds into a
// temporary directory, never over the dist/ someone may be running).
import { chmodSync, cpSync, existsSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = resolve(process.argv[2] ?? join(ROOT, 'dist'));
const MIGRATIONS = join('src', 'state', 'migrations');
/** Written last: its presence says the build is whole, its time when it was made (scripts/built-cli.ts). */
const BUILD_STAMP = '.build-complete';

// Built beside the target and swapped in at the end, from empty: a source deleted since
// the last build does not live on (a file left in dist/jobs/ would still be loaded as a
// job kind), and a command started from dist/ meanwhile runs the old build, not half a new one.
const next = `${out}.partial-${process.pid}`;
rmSync(next, { recursive: true, force: true });
const fail = (message) => {
  console.error(`build: ${message}`);
  rmSync(next, { recursive: true, force: true });
  process.exit(1);
};
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // `npm ci --omit=dev` installs no bundler: build where the dev dependencies are
  // (`npm ci && npm run build`), then `npm prune --omit=dev` keeps dist/.
  fail('esbuild is not installed (a devDependency): run npm ci with the dev dependencies, then npm run build');
}
const jobs = readdirSync(join(ROOT, 'jobs')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.includes('.test.'));
try {
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [join('src', 'cli', 'bin.ts'), ...jobs.map((f) => join('jobs', f))],
    outbase: '.',
    outdir: next,
    bundle: true,
    splitting: true,
    chunkNames: 'src/chunks/[name]-[hash]',
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'bundle',
    external: ['@aws-sdk/*', 'mysql2', 'mysql2/*', 'date-holidays', 'cli-progress', 'pino', 'pino-pretty', 'pg-native', '@bull-board/*'],
    // CommonJS packages in an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __retentionRequire } from 'node:module'; const require = __retentionRequire(import.meta.url);" },
    sourcemap: 'linked',
    logLevel: 'warning',
    // What each output holds and imports: the built-CLI test reads it to check which
    // packages a command loads before it runs.
    metafile: true,
  });
  writeFileSync(join(next, 'meta.json'), JSON.stringify(outputsOf(result.metafile), null, 1));
} catch (error) {
  fail(`esbuild failed (${error.message.split('\n')[0]}); ${out} is left as it was`);
}
/**
 * The metafile, cut to what a reader of the build needs: per output (its path in dist/),
 * the source it is the entry or split point of, the outputs it imports statically and
 * dynamically, and the packages whose code it holds or imports (external ones included).
 */
function outputsOf(metafile) {
  const local = (path) => relative(next, resolve(ROOT, path)).split(sep).join('/');
  const packageOf = (path) => {
    const at = path.lastIndexOf('node_modules/');
    if (at === -1) return null;
    const parts = path.slice(at + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  };
  const outputs = {};
  for (const [path, output] of Object.entries(metafile.outputs)) {
    if (path.endsWith('.map')) continue;
    const packages = new Set(Object.keys(output.inputs).map(packageOf).filter(Boolean));
    for (const i of output.imports) if (i.external && !i.path.startsWith('node:')) packages.add(packageOf(`node_modules/${i.path}`));
    outputs[local(path)] = {
      entryPoint: output.entryPoint ?? null,
      imports: output.imports.filter((i) => !i.external).map((i) => ({ path: local(i.path), kind: i.kind })),
      packages: [...packages].sort(),
    };
  }
  return outputs;
}

cpSync(join(ROOT, MIGRATIONS), join(next, MIGRATIONS), { recursive: true, filter: (src) => !src.endsWith('.ts') });
const bin = join(next, 'src', 'cli', 'bin.js');
if (!existsSync(bin) || !readdirSync(join(next, MIGRATIONS)).some((f) => f.endsWith('.sql'))) fail('the build lacks the bin or the migrations');
// Runnable as ./dist/src/cli/bin.js too (npm sets the mode itself only when it links a bin).
chmodSync(bin, 0o755);
writeFileSync(join(next, BUILD_STAMP), '');
rmSync(out, { recursive: true, force: true });
renameSync(next, out);
