import mysql from 'mysql2';

/**
 * A piece of MariaDB/MySQL SQL and the bind values of its `?` placeholders, in text
 * order. Placeholders are positional, so fragments are only ever combined with `sql`,
 * which keeps each fragment's values at the place its text goes: a value can never be
 * bound to the wrong `?`, however builders nest.
 */
export interface Fragment {
  readonly text: string;
  readonly values: readonly unknown[];
}

const FRAGMENT = Symbol('fragment');
type Tagged = Fragment & { readonly [FRAGMENT]: true };

function fragment(text: string, values: readonly unknown[] = []): Tagged {
  return { text, values, [FRAGMENT]: true };
}

function isFragment(value: unknown): value is Tagged {
  return typeof value === 'object' && value !== null && FRAGMENT in value;
}

/**
 * Tagged template: `sql\`${ident(column)} = ${value}\``. Interpolated fragments are
 * inlined; anything else is a value, sent as a bind parameter (`?`), never as text.
 */
export function sql(strings: TemplateStringsArray, ...parts: unknown[]): Tagged {
  let text = strings[0]!;
  const values: unknown[] = [];
  parts.forEach((part, i) => {
    if (isFragment(part)) {
      text += part.text;
      values.push(...part.values);
    } else {
      text += '?';
      values.push(part);
    }
    text += strings[i + 1]!;
  });
  return fragment(text, values);
}

/** Fragments joined by `separator` (SQL text written by this code, never from config). */
export function join(parts: readonly Fragment[], separator: string): Tagged {
  return fragment(parts.map((p) => p.text).join(separator), parts.flatMap((p) => p.values));
}

/**
 * SQL text written by this code (keywords, numbers it computed). Never pass config or
 * data here: those are identifiers (`ident`) or values.
 */
export function raw(text: string): Tagged {
  return fragment(text);
}

/**
 * One identifier in backticks, a backtick inside doubled (mysql2's escapeId with
 * qualified names forbidden, so `a.b` is one name, not a table in a schema). Config
 * names are validated before they get here; this holds even if one is not.
 */
export function ident(name: string): Tagged {
  if (name.length === 0 || name.includes('\0')) throw new Error(`invalid identifier ${JSON.stringify(name)}`);
  return fragment(mysql.escapeId(name, true));
}

/** A table, qualified by its database when the rule names one. */
export function qualified(table: { schema: string | null; name: string }): Tagged {
  return table.schema === null ? ident(table.name) : fragment(`${ident(table.schema).text}.${ident(table.name).text}`);
}

/** A whole number this code computed (LIMIT, OFFSET), written into the text. */
export function integer(n: number): Tagged {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`not a non-negative integer: ${n}`);
  return fragment(String(n));
}
