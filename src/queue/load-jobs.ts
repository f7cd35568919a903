import { readdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { packageDir } from '../package-path.js';
import type { JobHandler } from './job-handler.js';

/** <root>/jobs in the sources, dist/jobs built: found from here, wherever the bundle put this code. */
export const JOBS_DIR = packageDir(import.meta.url, 'jobs');

/**
 * Every file in jobs/ is a job kind named after the file (jobs/batch.ts handles `batch`
 * jobs), as graphile-worker does with tasks/. Adding a kind is adding a file.
 */
export async function loadJobs(dir = JOBS_DIR): Promise<Map<string, JobHandler>> {
  const handlers = new Map<string, JobHandler>();
  for (const file of readdirSync(dir).sort()) {
    const ext = extname(file);
    if (!['.ts', '.js', '.mjs'].includes(ext) || file.endsWith('.d.ts') || file.includes('.test.')) continue;
    const module = (await import(pathToFileURL(join(dir, file)).href)) as { default?: unknown };
    if (typeof module.default !== 'function') throw new Error(`jobs/${file} must default-export a handler function`);
    handlers.set(basename(file, ext), module.default as JobHandler);
  }
  return handlers;
}
