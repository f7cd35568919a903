import { z } from 'zod';
import type { Rule } from '../../policy/rule.js';
import type { TargetContext } from '../../policy/store-kind-catalog.js';
import { zoneProblem } from '../../policy/time-zone.js';
import type { FilesConfig } from './files-config.js';
import { globProblem } from './path-glob.js';

/** Where a file's retention period starts. */
export type FilesAnchor =
  /** Its last modification time (nanoseconds, as the file system keeps it). */
  | { kind: 'mtime' }
  /** A date or date-time in its path relative to the root: the first group of `pattern`. */
  | { kind: 'path'; pattern: string };

/** The zone wall-clock times in paths are read in, and where that came from. */
export interface FilesAnchorZone {
  name: string;
  from: 'rule' | 'store' | 'timezone';
}

/** What a rule on a files store sweeps: the kind-specific part of the rule. */
export interface FilesTarget {
  /** Glob relative to the store's root (`photos/**\/*.jpg`); see path-glob.ts. */
  path: string;
  anchor: FilesAnchor;
  /** Path anchors only (null for mtime, an instant). */
  anchorZone: FilesAnchorZone | null;
}

export type FilesRule = Rule<FilesTarget>;

/** The target as written in the YAML. */
export interface ParsedFilesTarget {
  path: string;
  anchor: 'mtime' | { path: string };
  anchorZone?: string | undefined;
}

export const FILES_TARGET_KEYS = ['path', 'anchor', 'anchorZone'] as const;

const globSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required: the glob of the files to sweep, relative to the store root, e.g. "photos/**/*.jpg"' : 'path must be a string') })
  .superRefine((pattern, ctx) => {
    const problem = globProblem(pattern);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  })
  .describe('the glob of the files to sweep, relative to the store root, e.g. "photos/**/*.jpg"; {subject} once, as a whole segment, names the person');

const pathAnchorSchema = z.strictObject({
  path: z.string({ error: 'anchor.path must be a regular expression whose first group is the date, e.g. "(\\\\d{4}-\\\\d{2}-\\\\d{2})"' }).superRefine((source, ctx) => {
    const problem = anchorPatternProblem(source);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }).describe('a regular expression over the path relative to the root; its first group is the date or date-time, e.g. "(\\\\d{4}-\\\\d{2}-\\\\d{2})"'),
});

const anchorSchema = z.union([z.literal('mtime'), pathAnchorSchema], {
  error: (issue) =>
    issue.input === undefined
      ? 'is required: mtime, or { path: "(\\\\d{4}-\\\\d{2}-\\\\d{2})" } for a date in the path'
      : 'anchor is mtime (the modification time) or { path: REGEX } (a date in the path, the first group)',
}).describe('what dates a file: mtime (its modification time) or { path: REGEX }, a date or date-time in its path relative to the root (the first group)');

export const filesTargetSchema: z.ZodType<ParsedFilesTarget> = z
  .strictObject({
    path: globSchema,
    anchor: anchorSchema,
    anchorZone: z
      .string({ error: 'anchorZone must be a time zone name such as UTC or Europe/Berlin' })
      .describe("path anchors: the zone of the dates read from paths (default: the store's anchorZone, else timezone)")
      .optional(),
  })
  .superRefine((target, ctx) => {
    if (target.anchorZone !== undefined && target.anchor === 'mtime') {
      ctx.addIssue({ code: 'custom', path: ['anchorZone'], message: 'anchorZone is for dates read from paths; a modification time is an instant' });
    }
  });

/** Compiles a path anchor's pattern; the flags are fixed (`u`), so what it matches does not depend on the caller. */
export function anchorRegExp(source: string): RegExp {
  return new RegExp(source, 'u');
}

/** Why `source` cannot be a path anchor: not a regular expression, or without a capture group. */
export function anchorPatternProblem(source: string): string | undefined {
  let re: RegExp;
  try {
    re = anchorRegExp(source);
  } catch (error) {
    return `${JSON.stringify(source)} is not a regular expression: ${(error as Error).message}`;
  }
  // The number of groups: an alternative that matches the empty string shows them all.
  const groups = new RegExp(`${re.source}|`, 'u').exec('')!.length - 1;
  if (groups === 0) return `${JSON.stringify(source)} has no group; put the date in parentheses, e.g. "(\\\\d{4}-\\\\d{2}-\\\\d{2})"`;
  return undefined;
}

/** The target with its anchor spelled out and the zone of path dates settled (the rule's, the store's, or the config's). */
export function resolveFilesTarget(parsed: ParsedFilesTarget, context: TargetContext): FilesTarget {
  if (parsed.anchor === 'mtime') return { path: parsed.path, anchor: { kind: 'mtime' }, anchorZone: null };
  const store = context.storeConfig as FilesConfig;
  const zone: FilesAnchorZone =
    parsed.anchorZone !== undefined
      ? { name: parsed.anchorZone, from: 'rule' }
      : store.anchorZone !== undefined
        ? { name: store.anchorZone, from: 'store' }
        : { name: context.timezone, from: 'timezone' };
  // The store's zone is checked with the store's config, the config's timezone with it.
  const problem = zone.from === 'rule' ? zoneProblem(zone.name) : undefined;
  if (problem) context.problems.push({ path: `${context.path}.anchorZone`, message: problem });
  return { path: parsed.path, anchor: { kind: 'path', pattern: parsed.anchor.path }, anchorZone: zone };
}
