import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import { placeholderCount, placeholderProblem, subjectSegmentProblem } from '../subject-segment.js';

/**
 * The glob of a files rule (`photos/**\/*.jpg`), relative to the store's root, compiled
 * into a matcher that reads one path segment at a time. Written here rather than taken
 * from a package because the walk needs to ask, at every directory, "can anything below
 * this match?" (to prune) and because the syntax that can reach outside the root is
 * refused, not interpreted:
 *
 * - `*` any run of characters within a name, `?` one character, `[abc]`, `[a-z]`,
 *   `[!abc]` one character of (not of) a class, `**` as a whole segment any number of
 *   directories (none included), `{jpg,png}` alternatives (not nested across `/`).
 * - Wildcards never match a name's leading `.` (as in shells): `photos/*` does not cover
 *   `photos/.htaccess`, and `**` does not enter `.git`; write the dot to mean it.
 * - Refused: an absolute pattern, `..` and `.` segments, empty segments (`a//b`, a
 *   trailing `/`), backslashes (no escapes: write `[*]` for a literal star), NUL.
 * - `{subject}` (at most once) names the person: a whole segment (`photos/{subject}/**`,
 *   never `photos/u-{subject}`, see subject-segment.ts), at the same depth in every
 *   `{a,b}` alternative and with no `**` above it, so that one segment of a path, always
 *   the same one, says whose the file is. In a sweep it matches what `*` matches (not a
 *   name starting with a dot); compiled for one subject it matches that name exactly,
 *   every character literal (an id `*` or `[a]` names only itself).
 */

/** One segment of one alternative of the pattern. */
type Node = { kind: 'globstar' } | { kind: 'name'; re: RegExp; literal: string | null } | { kind: 'accept' };

/**
 * What `{subject}` becomes before braces are expanded: a pattern holding NUL is refused,
 * so the mark cannot meet a character of the pattern, and braces leave it alone.
 */
const SUBJECT_MARK = '\0';
const markSubject = (pattern: string): string => pattern.split(SUBJECT_PLACEHOLDER).join(SUBJECT_MARK);
const SUBJECT_EXAMPLE = 'photos/{subject}/**';

/** Alternatives a pattern may expand to through `{a,b}`; more is a mistake, not a rule. */
const MAX_ALTERNATIVES = 256;

/** The set of pattern positions a walk has reached: what the next segment must match. */
export type GlobState = ReadonlySet<number>;

export class PathGlob {
  readonly #nodes: Node[];
  readonly #starts: number[];
  /**
   * Directories every match lies under, written literally (`photos`, `photos/2024`); never
   * one named by the subject, whose name is personal data and goes with its last file.
   */
  readonly literalDirectories: ReadonlySet<string>;
  /** Which segment of a matching path (0-based) is the `{subject}`; null without one. */
  readonly subjectIndex: number | null;

  private constructor(nodes: Node[], starts: number[], literalDirectories: Set<string>, subjectIndex: number | null) {
    this.#nodes = nodes;
    this.#starts = starts;
    this.literalDirectories = literalDirectories;
    this.subjectIndex = subjectIndex;
  }

  /**
   * Compiles a pattern; throws an Error with `globProblem`'s message when it is refused.
   * With `subject`, the pattern's `{subject}` matches exactly that name (the caller has
   * checked it is one segment, see `requireSubjectSegment`); without, what `*` matches.
   */
  static compile(pattern: string, subject?: string): PathGlob {
    const problem = globProblem(pattern);
    if (problem) throw new Error(problem);
    if (subject !== undefined) {
      if (placeholderCount(pattern) === 0) throw new Error(`${JSON.stringify(pattern)} has no ${SUBJECT_PLACEHOLDER} to select a subject with`);
      const idProblem = subjectSegmentProblem(subject);
      if (idProblem) throw new Error(`the subject id ${idProblem}`);
    }
    const subjectNode = (): Node => ({ kind: 'name', re: subject === undefined ? segmentRegExp('*') : exactRegExp(subject), literal: null });
    const nodes: Node[] = [];
    const starts: number[] = [];
    const literalDirectories = new Set<string>();
    let subjectIndex: number | null = null;
    for (const alternative of expandBraces(markSubject(pattern))) {
      starts.push(nodes.length);
      const segments = alternative.split('/');
      let literalPrefix = true;
      segments.forEach((segment, i) => {
        if (segment === SUBJECT_MARK) {
          nodes.push(subjectNode());
          subjectIndex = i;
          literalPrefix = false;
          return;
        }
        if (segment === '**') {
          nodes.push({ kind: 'globstar' });
          literalPrefix = false;
          return;
        }
        const literal = isLiteral(segment) ? segment : null;
        nodes.push({ kind: 'name', re: segmentRegExp(segment), literal });
        if (literal === null) literalPrefix = false;
        if (literalPrefix && i < segments.length - 1) literalDirectories.add(segments.slice(0, i + 1).join('/'));
      });
      nodes.push({ kind: 'accept' });
    }
    return new PathGlob(nodes, starts, literalDirectories, subjectIndex);
  }

  /** The `{subject}` segment of `relativePath`, a path this glob matches (or a directory on the way to one), or null. */
  subjectOf(relativePath: string): string | null {
    return this.subjectIndex === null ? null : (relativePath.split('/')[this.subjectIndex] ?? null);
  }

  /** The state at the root. */
  start(): GlobState {
    return this.#close(new Set(this.#starts));
  }

  /** The state after descending into (or reaching the file) `name`. */
  step(state: GlobState, name: string): GlobState {
    const next = new Set<number>();
    for (const i of state) {
      const node = this.#nodes[i]!;
      if (node.kind === 'globstar') {
        if (!name.startsWith('.')) next.add(i);
      } else if (node.kind === 'name' && node.re.test(name)) {
        next.add(i + 1);
      }
    }
    return this.#close(next);
  }

  /** True when the path that led to `state` matches the pattern (as a file). */
  matches(state: GlobState): boolean {
    for (const i of state) if (this.#nodes[i]!.kind === 'accept') return true;
    return false;
  }

  /** True when a path below the directory that led to `state` can still match. */
  canDescend(state: GlobState): boolean {
    for (const i of state) if (this.#nodes[i]!.kind !== 'accept') return true;
    return false;
  }

  /** True when the whole relative path matches. */
  test(relativePath: string): boolean {
    let state = this.start();
    for (const name of relativePath.split('/')) {
      state = this.step(state, name);
      if (state.size === 0) return false;
    }
    return this.matches(state);
  }

  /** `**` may match no directory at all: a state at one also stands at the node after it. */
  #close(states: Set<number>): Set<number> {
    const pending = [...states];
    while (pending.length > 0) {
      const i = pending.pop()!;
      if (this.#nodes[i]!.kind === 'globstar' && !states.has(i + 1)) {
        states.add(i + 1);
        pending.push(i + 1);
      }
    }
    return states;
  }
}

/**
 * Why `pattern` cannot be a files rule's `path`, or undefined when it can. Everything that
 * could name a place outside the root is refused here, before any file is read.
 */
export function globProblem(pattern: string): string | undefined {
  const shown = JSON.stringify(pattern);
  if (pattern.length === 0) return 'path must be a non-empty glob under the store root, e.g. "photos/**/*.jpg"';
  if (pattern.includes('\0')) return `${shown} contains a NUL character`;
  if (pattern.startsWith('/')) return `${shown} is absolute; path is relative to the store's root, e.g. "photos/**/*.jpg"`;
  if (pattern.includes('\\')) return `${shown} contains a backslash; separate directories with / and write [*] for a literal *`;
  const placement = placeholderProblem(pattern, SUBJECT_EXAMPLE);
  if (placement) return placement;
  const hasSubject = placeholderCount(pattern) > 0;
  let alternatives: string[];
  try {
    alternatives = expandBraces(markSubject(pattern));
  } catch (error) {
    return `${shown}: ${(error as Error).message}`;
  }
  let subjectIndex: number | null = null;
  for (const alternative of alternatives) {
    if (alternative.startsWith('/')) return `${shown} can expand to an absolute path (${JSON.stringify(alternative.split(SUBJECT_MARK).join(SUBJECT_PLACEHOLDER))})`;
    const segments = alternative.split('/');
    if (hasSubject) {
      const at = segments.indexOf(SUBJECT_MARK);
      if (at < 0) return `${shown}: every {a,b} alternative must hold ${SUBJECT_PLACEHOLDER}, or some files would belong to nobody`;
      if (segments.slice(0, at).includes('**')) {
        return `${shown}: ** above ${SUBJECT_PLACEHOLDER} leaves unclear which directory is the person's; write the directories above it, as in ${JSON.stringify(SUBJECT_EXAMPLE)}`;
      }
      if (subjectIndex !== null && at !== subjectIndex) return `${shown}: ${SUBJECT_PLACEHOLDER} must be at the same depth in every {a,b} alternative`;
      subjectIndex = at;
    }
    for (const segment of segments) {
      if (segment === SUBJECT_MARK) continue;
      if (segment === '..') return `${shown} contains "..": a rule may only reach files under the store's root`;
      if (segment === '.') return `${shown} contains a "." segment; write the path without it`;
      if (segment === '') return `${shown} contains an empty segment (a leading, doubled or trailing /)`;
      if (segment.includes('**') && segment !== '**') return `${shown}: ** stands for whole directories, as in "photos/**/*.jpg"`;
      const classProblem = unclosedClass(segment);
      if (classProblem) return `${shown}: ${classProblem}`;
      try {
        segmentRegExp(segment);
      } catch {
        return `${shown}: ${JSON.stringify(segment)} is not a valid pattern (a class range out of order?)`;
      }
    }
  }
  return undefined;
}

/** Expands `{a,b}` alternatives (nested allowed), left to right; braces inside a `[...]` class are literal. */
function expandBraces(pattern: string): string[] {
  let open = -1;
  let end = -1;
  let depth = 0;
  const commas: number[] = [];
  for (let i = 0; i < pattern.length && end < 0; i++) {
    const c = pattern[i];
    if (c === '[') {
      const close = classEnd(pattern, i);
      if (close >= 0) i = close;
    } else if (c === '{') {
      if (depth++ === 0) open = i;
    } else if (c === '}') {
      if (depth === 0) throw new Error('has a } without {; write [}] for a literal }');
      if (--depth === 0) end = i;
    } else if (c === ',' && depth === 1) commas.push(i);
  }
  if (open < 0) return [pattern];
  if (end < 0) throw new Error('has a { without }; write [{] for a literal {');
  if (commas.length === 0) throw new Error('has {...} without a comma; alternatives are written {jpg,png}');
  const head = pattern.slice(0, open);
  const tail = pattern.slice(end + 1);
  const bounds = [open, ...commas, end];
  const results: string[] = [];
  for (let k = 0; k + 1 < bounds.length; k++) {
    for (const expanded of expandBraces(head + pattern.slice(bounds[k]! + 1, bounds[k + 1]) + tail)) {
      results.push(expanded);
      if (results.length > MAX_ALTERNATIVES) throw new Error(`expands to more than ${MAX_ALTERNATIVES} alternatives`);
    }
  }
  return results;
}

function isLiteral(segment: string): boolean {
  return !/[*?[]/.test(segment);
}

function unclosedClass(segment: string): string | undefined {
  for (let i = 0; i < segment.length; i++) {
    if (segment[i] !== '[') continue;
    const end = classEnd(segment, i);
    if (end < 0) return `has a [ without ]; write [[] for a literal [`;
    i = end;
  }
  return undefined;
}

/**
 * Index of the `]` closing the class opened at `open` (a `]` first in the class is
 * literal), or -1; a class never spans a `/`.
 */
function classEnd(text: string, open: number): number {
  let i = open + 1;
  if (text[i] === '!' || text[i] === '^') i++;
  if (text[i] === ']') i++;
  const end = text.indexOf(']', i);
  const slash = text.indexOf('/', open);
  return end >= 0 && (slash < 0 || end < slash) ? end : -1;
}

/** Characters with a meaning in a RegExp (outside a class, in unicode mode). */
const REGEXP_SYNTAX = /[\^$\\.*+?()[\]{}|/]/;
const escapeChar = (c: string) => (REGEXP_SYNTAX.test(c) ? `\\${c}` : c);
/** Inside a class only these need escaping (unicode mode allows no other identity escapes). */
const escapeClassChar = (c: string) => (/[\\\]\[^-]/.test(c) ? `\\${c}` : c);

/** A RegExp matching exactly `name`, every character literal. */
function exactRegExp(name: string): RegExp {
  return new RegExp(`^${[...name].map(escapeChar).join('')}$`, 'u');
}

/** One name's pattern as an anchored RegExp; wildcards never match a leading dot. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  const chars = [...segment];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      let j = i + 1;
      let negate = false;
      if (chars[j] === '!' || chars[j] === '^') {
        negate = true;
        j++;
      }
      let body = '';
      let first = true;
      for (; j < chars.length && (first || chars[j] !== ']'); j++, first = false) {
        const d = chars[j]!;
        if (d === '-' && !first && j + 1 < chars.length && chars[j + 1] !== ']') body += '-';
        else body += escapeClassChar(d);
      }
      source += `[${negate ? '^/' : ''}${body}]`;
      i = j;
    } else source += escapeChar(c);
  }
  const guard = segment.startsWith('.') ? '' : '(?!\\.)';
  return new RegExp(`^${guard}${source}$`, 'u');
}
