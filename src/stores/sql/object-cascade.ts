import { IDENTIFIER } from '../../policy/config-schema.js';

/**
 * A SQL rule's `cascade:` entry: the objects (files, S3 keys) its rows own, named by a
 * column template. When a sweep deletes a row, the template rendered from that row names
 * an object in `store` that goes with it (through the outbox: see
 * src/stores/postgres/object-outbox.ts).
 */
export interface ObjectCascade {
  /** A `files` or `s3` store of the config. */
  store: string;
  /** The template as written: `"photos/{file_path}"`. */
  path: string;
  /** The template parsed: literal text and column placeholders, in order. */
  parts: TemplatePart[];
}

export type TemplatePart = { literal: string } | { column: string };

/**
 * Parses a column template: `{column}` placeholders (column names as in `where`) with
 * literal text around them. A brace that does not open or close a placeholder is refused
 * (a path with a literal brace is written in the column, not the template), and a template
 * needs at least one placeholder: a constant would name the same object for every row.
 */
export function parsePathTemplate(text: string): { parts: TemplatePart[] } | { problem: string } {
  const parts: TemplatePart[] = [];
  let literal = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '}') return { problem: `${JSON.stringify(text)} has a "}" that closes no placeholder` };
    if (c !== '{') {
      literal += c;
      continue;
    }
    const end = text.indexOf('}', i + 1);
    if (end === -1) return { problem: `${JSON.stringify(text)} has a "{" that is never closed` };
    const column = text.slice(i + 1, end);
    if (!IDENTIFIER.test(column)) return { problem: `${JSON.stringify(`{${column}}`)} in ${JSON.stringify(text)} is not a column placeholder ({column_name})` };
    if (literal) parts.push({ literal });
    literal = '';
    parts.push({ column });
    i = end;
  }
  if (literal) parts.push({ literal });
  if (!parts.some((p) => 'column' in p)) return { problem: `${JSON.stringify(text)} names no column: write the column holding the path in braces, e.g. "{file_path}"` };
  return { parts };
}

/** The columns a template reads, each once, in order of appearance. */
export function templateColumns(parts: readonly TemplatePart[]): string[] {
  return [...new Set(parts.flatMap((p) => ('column' in p ? [p.column] : [])))];
}

/** Every column the rule's cascades read. */
export function cascadeColumns(cascades: readonly ObjectCascade[]): string[] {
  return [...new Set(cascades.flatMap((c) => templateColumns(c.parts)))];
}
