import { isAbsolute, normalize } from 'node:path';
import { z } from 'zod';
import { zoneProblem } from '../../policy/time-zone.js';

/** `stores.NAME` of a files store, without `kind`. */
export interface FilesConfig {
  /** The directory every rule's glob is relative to; nothing outside it is ever touched. */
  root: string;
  /** The zone wall-clock times read from paths are in; a rule's own anchorZone wins. Default: the config's timezone. */
  anchorZone?: string | undefined;
}

/**
 * An absolute, normalized directory other than `/`: a sweep's reach ends at it, so it is
 * written out plainly (no `..`, no trailing `/`) and `/` (everything) is refused. Whether
 * it exists is a live check (`check`), not a config one.
 */
export const filesConfigSchema: z.ZodType<FilesConfig> = z.strictObject({
  root: z
    .string({ error: (issue) => (issue.input === undefined ? 'root is required: the directory the files live in, e.g. /srv/uploads' : 'root must be a string') })
    .superRefine((root, ctx) => {
      const problem = rootProblem(root);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe('the directory the files live in, absolute and written plainly (not /); nothing outside it is ever touched'),
  anchorZone: z
    .string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' })
    .superRefine((zone, ctx) => {
      const problem = zoneProblem(zone);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .describe("the zone wall-clock dates read from paths are in (a rule's own anchorZone wins; default: timezone)")
    .optional(),
}).describe('Files under a directory, dated by their modification time or a date in their path; symbolic links and other non-regular files are never followed or deleted.');

function rootProblem(root: string): string | undefined {
  const shown = JSON.stringify(root);
  if (!isAbsolute(root)) return `${shown} is not an absolute path; write the directory in full, e.g. /srv/uploads`;
  if (root.includes('\0')) return `${shown} contains a NUL character`;
  if (root === '/') return 'root cannot be / (every file on the machine); name the directory that holds the files, e.g. /srv/uploads';
  const plain = normalize(root).replace(/\/+$/, '');
  if (plain !== root) return `${shown} is not written plainly (no "..", ".", doubled or trailing /); write ${JSON.stringify(plain || '/')}`;
  return undefined;
}
