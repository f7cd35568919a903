import { constants } from 'node:fs';
import { access, realpath, stat } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { UserError, type ConfigProblem } from '../../errors.js';
import type { AnchorRange } from '../../policy/expiry.js';
import { selectionParts, type Selection } from '../selection.js';
import { requireSubjectSegment } from '../subject-segment.js';
import { boundedRanges } from '../bounded-ranges.js';
import type { BatchResult, BatchSpec, KeyRange, Store, StoreContext, Unjudged } from '../store.js';
import { deleteConfined, removeUnder } from './delete-confined.js';
import type { ObjectDeleter, ObjectDeletion } from '../owned-objects.js';
import { anchorPatternProblem, anchorRegExp, type FilesRule, type FilesTarget } from './files-target.js';
import { capturedDate, NS_PER_MS, parsePathDate } from './path-anchor.js';
import { globProblem, PathGlob } from './path-glob.js';
import { UNDECODABLE_NAME, walkFiles, WalkError, type WalkEntry } from './walk-files.js';

/** Why a file the glob covers is never judged, besides those walk-files.ts names. */
export const MALFORMED = 'malformed anchor';

const WHOLE: KeyRange = { after: null, upTo: null };

/** Distinct subjects per page `scanSubjects` yields. */
const SUBJECT_PAGE = 1_000;

/** A selection as the walk applies it to one rule. */
interface Selecting {
  /** The rule's glob; for a subject selection, with `{subject}` matching that id exactly. */
  glob: PathGlob;
  /** Expired ranges, or null for a subject selection: age does not matter. */
  ranges: readonly AnchorRange[] | null;
  /** Subjects on hold: their files are never deleted. */
  held: ReadonlySet<string>;
  /** The subject is itself held: nothing is selected. */
  none: boolean;
}

/** File system codes that say "fix the setup", not "try again". */
const SETUP_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT', 'ENOTDIR', 'ELOOP']);

/** What one walk over the rule's files found. */
interface Survey {
  /** Files the glob covers that are regular files (judged or not). */
  files: number;
  /** Files whose anchor lies in the ranges: deleted (real run) or that would be (dry run, count). */
  expired: number;
  /** Files the selection would have deleted but kept because their subject is on hold. */
  held: number;
  unjudged: Unjudged;
}

/**
 * Files in a directory tree (uploads, exports), swept by a glob relative to the store's
 * root: a file is expired when its anchor, its modification time or a date in its path,
 * lies in the expired ranges. Only delete.
 *
 * Nothing outside the root is ever touched. Globs that could name a place outside it
 * (absolute, `..`) are refused at load and again here; the walk never follows a symbolic
 * link (a link the glob covers, to a file or a directory, is counted as unjudged
 * "symlink"); and just before each deletion the file's real path must be exactly the
 * root's real path plus its relative path, and it must still be the regular file that
 * was judged (same device, inode and change time, and for mtime anchors the same
 * modification time),
 * or it is kept. An anchor that cannot be read is counted as "malformed anchor", never
 * deleted.
 *
 * People: a rule whose glob has `{subject}` (`photos/{subject}/**`, see path-glob.ts)
 * knows whose each file is by that one segment. A subject selection walks the glob with
 * the segment matching the id exactly, whatever the files' age (their anchors are not
 * read; the path alone decides, so a file rewritten meanwhile at the same path goes too,
 * while the confinement checks still hold). An id that cannot be one segment (empty,
 * `.`, `..`, with `/` or NUL) is refused. Held subjects (`exceptSubjects`) are compared
 * with that segment as each file is about to be deleted, and kept and counted (`held`).
 *
 * The audit entry is written after the change ('change-then-record'): a file system has
 * no transaction to share with the state database.
 */
export class FilesStore implements Store<FilesTarget>, ObjectDeleter {
  readonly kind = 'files';

  constructor(
    readonly name: string,
    /** `stores.NAME.root`, absolute. */
    readonly root: string,
    /** Where the root was configured, for messages: "stores.photos.root in retention.yaml". */
    readonly origin: string,
  ) {}

  /** The root exists, is a directory, and can be listed. */
  async ping(): Promise<void> {
    const real = await this.#realRoot();
    try {
      await access(real, constants.R_OK | constants.X_OK);
    } catch (error) {
      throw this.#setupError(error, 'cannot list');
    }
  }

  /** Never: the checkpoint and audit entry commit after the change. */
  sharesTransactionsWith(): boolean {
    return false;
  }

  describe(rule: FilesRule): string {
    return `${this.root}/${rule.target.path}`;
  }

  async close(): Promise<void> {}

  async inspect(rule: FilesRule, path: string, _context?: StoreContext): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    const at = (field: string, message: string, severity?: 'warning') => problems.push({ path: `${path}.${field}`, message, ...(severity ? { severity } : {}) });
    const glob = globProblem(rule.target.path);
    if (glob) at('path', glob);
    if (rule.target.anchor.kind === 'path') {
      const pattern = anchorPatternProblem(rule.target.anchor.pattern);
      if (pattern) at('anchor.path', pattern);
    }
    if (rule.action !== 'delete') at('action', `a rule on files store ${this.name} can only delete files; a file cannot be anonymized in place`);
    for (const { column } of rule.anonymize) at(`anonymize.${column}`, `files store ${this.name} cannot anonymize: a file is deleted whole, never rewritten`);
    try {
      await this.ping();
      const real = await this.#realRoot();
      try {
        await access(real, constants.W_OK);
      } catch {
        at('store', `the root ${this.root} of files store ${this.name} is not writable by this process; deleting a file needs write access to its directory`, 'warning');
      }
    } catch (error) {
      at('store', (error as Error).message);
    }
    return problems;
  }

  async count(rule: FilesRule, selection: Selection, _context?: StoreContext): Promise<number> {
    const selecting = this.#selecting(rule, selection);
    return selecting.none ? 0 : (await this.#survey(rule, selecting, WHOLE, false)).expired;
  }

  /** Files the glob covers whose anchor cannot be judged, or that are not regular files, by reason. */
  async unjudged(rule: FilesRule): Promise<Unjudged> {
    return (await this.#survey(rule, this.#everything(rule), WHOLE, false)).unjudged;
  }

  /** Regular files the glob covers, expired or not, for the fraction limit. */
  async total(rule: FilesRule): Promise<number> {
    return (await this.#survey(rule, this.#everything(rule), WHOLE, false)).files;
  }

  /**
   * The `{subject}` segments of the paths the glob covers (as a sweep's glob: names
   * starting with a dot are not covered), each once, in path order, in pages. The walk
   * calls back rather than yields, so the distinct values are gathered first (one string
   * per person, not per file).
   */
  async *scanSubjects(rule: FilesRule): AsyncIterable<readonly string[]> {
    const glob = this.#glob(rule);
    if (glob.subjectIndex === null) throw new Error(`rule ${rule.id}: path ${JSON.stringify(rule.target.path)} has no {subject}; it cannot tell whose files are`);
    const realRoot = await this.#realRoot();
    const subjects = new Set<string>();
    await this.#walk(realRoot, glob, WHOLE, async (entry) => {
      // An undecodable name was read lossily: it is not anyone's id.
      if (entry.kind === 'unjudged' && entry.reason === UNDECODABLE_NAME) return;
      const subject = glob.subjectOf(entry.relative);
      if (subject !== null) subjects.add(subject);
    });
    const all = [...subjects];
    for (let i = 0; i < all.length; i += SUBJECT_PAGE) yield all.slice(i, i + SUBJECT_PAGE);
  }

  /**
   * Ranges of about `batchSize` files each, by relative path (the walk's order): each
   * batch walks only the directories its range reaches.
   */
  async partition(rule: FilesRule, selection: Selection): Promise<KeyRange[]> {
    const { glob } = this.#selecting(rule, selection);
    const realRoot = await this.#realRoot();
    const bounds: string[] = [];
    let files = 0;
    await this.#walk(realRoot, glob, WHOLE, async (entry) => {
      if (entry.kind !== 'file') return;
      if (++files % rule.batchSize === 0) bounds.push(entry.relative);
    });
    return boundedRanges(bounds);
  }

  async apply(batch: BatchSpec<FilesTarget>): Promise<BatchResult> {
    const { rule, selection, keyRange, dryRun } = batch;
    const selecting = this.#selecting(rule, selection);
    if (selecting.none) return { rows: 0 };
    const survey = await this.#survey(rule, selecting, keyRange, !dryRun);
    return survey.held > 0 ? { rows: survey.expired, held: survey.held } : { rows: survey.expired };
  }

  /**
   * The selection for this rule: its ranges, one subject's files, or (a sunset's `all`:
   * no ranges, no subject) every file the glob covers whatever its anchor, minus held subjects'.
   * Throws when the rule cannot tell whose its files are (no `{subject}`) and the selection
   * needs it, and a UserError naming the rule for an id that cannot be one path segment.
   */
  #selecting(rule: FilesRule, selection: Selection): Selecting {
    const { ranges, subject, except, none } = selectionParts(selection);
    if ((subject !== null || except.length > 0) && this.#glob(rule).subjectIndex === null) {
      throw new Error(`rule ${rule.id}: path ${JSON.stringify(rule.target.path)} has no {subject}, so files store ${this.name} cannot tell whose files are`);
    }
    const glob = subject === null ? this.#glob(rule) : this.#glob(rule, requireSubjectSegment(rule.id, rule.target.path, subject));
    return { glob, ranges, held: new Set(except), none };
  }

  /** Every file the glob covers, judged against no range: for `unjudged` and `total`. */
  #everything(rule: FilesRule): Selecting {
    return { glob: this.#glob(rule), ranges: [], held: new Set(), none: false };
  }

  /**
   * Walks the rule's files in `range` once: counts, judges, and (with `remove`) deletes
   * the expired ones, each re-checked at the moment of deletion.
   */
  async #survey(rule: FilesRule, selecting: Selecting, range: KeyRange, remove: boolean): Promise<Survey> {
    const realRoot = await this.#realRoot();
    const { glob, ranges, held } = selecting;
    const anchorOf = anchorReader(rule);
    const survey: Survey = { files: 0, expired: 0, held: 0, unjudged: {} };
    const unjudged = (reason: string): void => void (survey.unjudged[reason] = (survey.unjudged[reason] ?? 0) + 1);
    await this.#walk(realRoot, glob, range, async (entry) => {
      if (entry.kind === 'unjudged') return unjudged(entry.reason);
      survey.files++;
      if (ranges !== null) {
        const anchor = anchorOf(entry.relative, entry.stats);
        if (anchor === null) return unjudged(MALFORMED);
        if (!inRangesNs(ranges, anchor)) return;
      }
      // A held person's file is kept here, where its deletion is decided, counted or not.
      if (held.size > 0 && held.has(glob.subjectOf(entry.relative)!)) {
        survey.held++;
        return;
      }
      if (!remove) {
        survey.expired++;
        return;
      }
      // A sweep deletes a file only while it is the one judged; a subject's file is the
      // person's by its path alone, whatever was written to it since.
      const judged =
        ranges === null
          ? undefined
          : { dev: entry.stats.dev, ino: entry.stats.ino, ctimeNs: entry.stats.ctimeNs, mtimeNs: rule.target.anchor.kind === 'mtime' ? entry.stats.mtimeNs : null };
      let outcome;
      try {
        outcome = await removeUnder(realRoot, entry.relative, { ...(judged ? { judged } : {}), keep: glob.literalDirectories });
      } catch (error) {
        throw this.#setupError(error, `cannot delete a file matching ${JSON.stringify(rule.target.path)} under`);
      }
      // 'missing': gone meanwhile, nothing to do. 'changed' (touched, replaced) and a
      // refusal (a symbolic link swapped in) keep the file: the next sweep judges it again.
      if (outcome === 'deleted') survey.expired++;
    });
    return survey;
  }

  async #walk(realRoot: string, glob: PathGlob, range: KeyRange, visit: (entry: WalkEntry) => Promise<void>): Promise<void> {
    try {
      await walkFiles(realRoot, glob, range, visit);
    } catch (error) {
      if (error instanceof WalkError) throw this.#setupError(error.cause, 'cannot read a directory under');
      throw error;
    }
  }

  #glob(rule: FilesRule, subject?: string): PathGlob {
    try {
      return PathGlob.compile(rule.target.path, subject);
    } catch (error) {
      throw new UserError(`rule ${rule.id}: path ${(error as Error).message}`);
    }
  }

  /**
   * Row-to-file cascades: deletes each named file (a path relative to the root, from a
   * database row, so untrusted) through `deleteConfined`: a path that is absolute, has
   * `..`, or meets a symbolic link or a non-regular file is refused and left. A root that
   * cannot be opened fails the whole call; one file's failure (EACCES) is that file's,
   * reported by code only (the path may hold personal data).
   */
  async deleteObjects(names: readonly string[]): Promise<ObjectDeletion[]> {
    const realRoot = await this.#realRoot();
    const results: ObjectDeletion[] = [];
    for (const name of names) {
      try {
        results.push(await deleteConfined(realRoot, name));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException)?.code ?? 'EIO';
        results.push({ failed: `${REASONS[code] ?? code} (${code})` });
      }
    }
    return results;
  }

  /** The root's real path (a symlinked root is followed once, here); a UserError naming it when it is not a usable directory. */
  async #realRoot(): Promise<string> {
    let real: string;
    try {
      real = await realpath(this.root);
      if (!(await stat(real)).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    } catch (error) {
      throw this.#setupError(error, 'cannot open');
    }
    return real;
  }

  /**
   * A file system failure as an error naming the store and its root, never the file (a
   * path can hold personal data): a UserError for what the operator must fix (missing,
   * permission denied, read-only), otherwise an Error keeping the code (EMFILE, EIO).
   */
  #setupError(error: unknown, doing: string): Error {
    if (error instanceof UserError) return error;
    const code = (error as NodeJS.ErrnoException)?.code ?? 'EIO';
    const reason = REASONS[code] ?? code;
    const message = `files store ${this.name} ${doing} ${this.root} (${this.origin}): ${reason} (${code})`;
    if (SETUP_CODES.has(code)) return new UserError(message, { cause: error });
    return Object.assign(new Error(message, { cause: error }), { code });
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'no such directory',
  ENOTDIR: 'not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ELOOP: 'too many symbolic links',
};

/** How the rule's anchor is read from a file: nanoseconds since the epoch, or null when it cannot be. */
function anchorReader(rule: FilesRule): (relative: string, stats: BigIntStats) => bigint | null {
  const { anchor, anchorZone } = rule.target;
  if (anchor.kind === 'mtime') return (_relative, stats) => stats.mtimeNs;
  const pattern = anchorRegExp(anchor.pattern);
  const zone = anchorZone?.name ?? rule.timezone;
  return (relative) => {
    const text = capturedDate(pattern, relative);
    return text === null ? null : parsePathDate(text, zone);
  };
}

/**
 * `inRanges` on nanoseconds: exact, so an anchor a fraction of a millisecond past a bound
 * is outside it (never rounded down into it).
 */
export function inRangesNs(ranges: readonly AnchorRange[], anchorNs: bigint): boolean {
  return ranges.some((r) => (r.from === null || anchorNs >= BigInt(r.from) * NS_PER_MS) && anchorNs <= BigInt(r.to) * NS_PER_MS);
}
