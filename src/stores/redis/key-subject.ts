import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import { BYTES, tokenize, type GlobToken } from './glob-tokens.js';

const COLON = 0x3a;
/** What the placeholder stands for in a key: one segment, a non-empty run without `:`. */
const SEGMENT = '([^:]+)';
/** Bytes that are special in a Redis glob (`^` only inside a class, escaped anyway). */
const GLOB_SPECIAL = /[*?[\]\\^]/g;

/** Where `{subject}` lies in a key pattern, or what is wrong with how it is written. */
type Placement = { kind: 'none' } | { kind: 'placeholder'; before: string; after: string } | { kind: 'invalid'; problems: string[] };

/**
 * The person a key belongs to, named by a `{subject}` placeholder in the rule's key
 * pattern (`session:{subject}:*`). The placeholder stands for one key segment: a non-empty
 * run of bytes without `:`. So a key `session:u1:a` belongs to `u1`, and an id holding
 * `:` can never be named by such a pattern (an erasure of one is refused, never widened).
 *
 * The pattern must place it so that every key names at most one person: with no `*`
 * before it (its start is then fixed) and followed by the end, a fixed-length rest, or
 * literal text up to a `:`; or with a fixed-length rest after it and a `:` plus literal
 * text before it. `session:{subject}:*`, `session:{{subject}}:*` (a cluster hash tag),
 * `*:session:{subject}` and `user-{subject}` qualify; `*:{subject}:*` does not (in
 * `a:b:c:d` it could be `b` or `c`), nor does `u{subject}*` (`u10` could be `1` or `10`).
 *
 * Keys are bytes: matching runs on each byte as one latin1 character, so a glob's `?` is
 * one byte as in Redis, and an id is compared by its UTF-8 bytes, exactly.
 */
export class KeySubject {
  /** SCAN MATCH for a sweep: the placeholder as `*`, every key re-checked by `segmentOf`. */
  readonly sweepMatch: string;
  readonly #before: string;
  readonly #after: string;
  readonly #regex: RegExp;

  private constructor(before: string, after: string) {
    this.#before = before;
    this.#after = after;
    this.sweepMatch = `${before}*${after}`;
    this.#regex = new RegExp(`^${globRegex(before)}${SEGMENT}${globRegex(after)}$`);
  }

  /** The placeholder of `keys`; null when it has none. Throws for one `keyProblems` refuses. */
  static of(keys: string): KeySubject | null {
    const placement = place(keys);
    if (placement.kind === 'none') return null;
    if (placement.kind === 'invalid') throw new Error(`key pattern ${JSON.stringify(keys)}: ${placement.problems.join('; ')}`);
    return new KeySubject(placement.before, placement.after);
  }

  /** Whether `id` can be one key segment: non-empty, without `:`. */
  static canName(id: string): boolean {
    return id.length > 0 && !id.includes(':');
  }

  /** `id` as `segmentOf` returns a segment: its UTF-8 bytes, one latin1 character each. */
  static segment(id: string): string {
    return Buffer.from(id, 'utf8').toString('latin1');
  }

  /** A segment back as the id it holds (UTF-8). */
  static decode(segment: string): string {
    return Buffer.from(segment, 'latin1').toString('utf8');
  }

  /**
   * SCAN MATCH for one person's keys: the id with every glob metacharacter escaped, so
   * `u*` names only `u*`. SCAN's matching is still a glob: keep only keys whose
   * `segmentOf` is exactly `segment(id)`.
   */
  matchFor(id: string): string {
    return `${this.#before}${id.replace(GLOB_SPECIAL, (c) => `\\${c}`)}${this.#after}`;
  }

  /** The segment of `key` the placeholder stands for (latin1 bytes), or null when the key does not fit the pattern. */
  segmentOf(key: Buffer): string | null {
    return this.#regex.exec(key.toString('latin1'))?.[1] ?? null;
  }
}

/** What is wrong with the `{subject}` placeholder of a key pattern; empty when sound or absent. */
export function keyProblems(keys: string): string[] {
  const placement = place(keys);
  return placement.kind === 'invalid' ? placement.problems : [];
}

function place(keys: string): Placement {
  const found: number[] = [];
  const problems: string[] = [];
  // Walks the pattern as Redis reads it, to tell a placeholder from one escaped or inside a class.
  let inClass = false;
  for (let i = 0; i < keys.length; ) {
    if (keys.startsWith(SUBJECT_PLACEHOLDER, i)) {
      if (inClass) problems.push(`${SUBJECT_PLACEHOLDER} inside [...] would be read as a set of characters, not the person's id; write it outside the brackets`);
      else found.push(i);
      i += SUBJECT_PLACEHOLDER.length;
      continue;
    }
    const c = keys[i];
    if (c === '\\') {
      if (keys.startsWith(SUBJECT_PLACEHOLDER, i + 1)) {
        problems.push(`\\${SUBJECT_PLACEHOLDER} escapes the placeholder; a key pattern cannot match the text ${SUBJECT_PLACEHOLDER} itself: remove the backslash to name the person`);
        i += 1 + SUBJECT_PLACEHOLDER.length;
      } else i += 2;
    } else if (inClass) {
      if (c === ']') inClass = false;
      i++;
    } else {
      if (c === '[') {
        inClass = true;
        if (keys[i + 1] === '^') i++;
      }
      i++;
    }
  }
  if (found.length > 1) problems.push(`${SUBJECT_PLACEHOLDER} appears ${found.length} times; a key names one person: write it once`);
  if (problems.length > 0) return { kind: 'invalid', problems };
  const at = found[0];
  if (at === undefined) return { kind: 'none' };
  const before = keys.slice(0, at);
  const after = keys.slice(at + SUBJECT_PLACEHOLDER.length);
  if (!oneSegmentPerKey(tokenize(Buffer.from(before, 'utf8')), tokenize(Buffer.from(after, 'utf8')))) {
    return {
      kind: 'invalid',
      problems: [
        `a key could name more than one person: ${SUBJECT_PLACEHOLDER} stands for one segment (no ":"), so write it with no * on one side and ` +
          `":" or the pattern's end next to it on the other, e.g. "session:${SUBJECT_PLACEHOLDER}:*" or "*:session:${SUBJECT_PLACEHOLDER}"`,
      ],
    };
  }
  return { kind: 'placeholder', before, after };
}

/**
 * Whether the segment is found in one place only, whatever the key: its start is fixed
 * (nothing variable-length before it) and its end too (a fixed-length rest, or literal
 * bytes up to a `:`, the first one after it since the segment holds none); or the mirror
 * image.
 */
function oneSegmentPerKey(before: GlobToken[], after: GlobToken[]): boolean {
  const fixed = (tokens: GlobToken[]) => tokens.every((t) => t.kind !== 'star');
  const literalToColon = (tokens: GlobToken[]) => {
    for (const t of tokens) {
      if (t.kind !== 'byte') return false;
      if (t.byte === COLON) return true;
    }
    return false;
  };
  return (fixed(before) && (fixed(after) || literalToColon(after))) || (fixed(after) && literalToColon([...before].reverse()));
}

/** A glob as a regular expression over latin1 text (one character per byte of the key). */
function globRegex(glob: string): string {
  const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, '0')}`;
  return tokenize(Buffer.from(glob, 'utf8'))
    .map((t) => {
      if (t.kind === 'byte') return hex(t.byte);
      if (t.kind === 'any') return '[\\x00-\\xff]';
      if (t.kind === 'star') return '[\\x00-\\xff]*';
      const admitted = BYTES.filter(t.has);
      return admitted.length === 0 ? '(?!)' : `[${admitted.map(hex).join('')}]`;
    })
    .join('');
}
