import { isAlias, isMap, isScalar, isSeq, type Document } from 'yaml';
import type { ConfigProblem } from '../errors.js';

/**
 * The source text of every number written under `rules` (`rules[2].where.tenant_id`,
 * `rules[2].where.version.not`), by path, read from the YAML document itself: converted
 * to a JavaScript number, 9007199254740993 becomes ...992 and 1.10 becomes 1.1, and a
 * filter would match other rows than the file says. Store kinds read what they need.
 */
export function numberSources(doc: Document): Map<string, string> {
  const out = new Map<string, string>();
  const deref = (node: unknown): unknown => (isAlias(node) ? node.resolve(doc) : node);
  const walk = (node: unknown, path: string, depth: number) => {
    const value = deref(node);
    // Aliases can nest; real rules are a few levels deep.
    if (depth > 16) return;
    if (isScalar(value)) {
      if ((typeof value.value === 'number' || typeof value.value === 'bigint') && value.source !== undefined) out.set(path, value.source);
    } else if (isMap(value)) {
      for (const pair of value.items) {
        const key = deref(pair.key);
        if (isScalar(key)) walk(pair.value, `${path}.${String(key.value)}`, depth + 1);
      }
    } else if (isSeq(value)) {
      value.items.forEach((item, i) => walk(item, `${path}[${i}]`, depth + 1));
    }
  };
  const root = deref(doc.contents);
  if (isMap(root)) walk(root.get('rules', true), 'rules', 0);
  return out;
}

/** A number SQL reads the same way YAML does: decimal digits, optional fraction and exponent. */
export const DECIMAL_NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

// In a `u` regex a surrogate class matches only unpaired halves: a paired one is one code point.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Strings PostgreSQL cannot hold or would store as something else: a NUL (refused by every
 * text type) and a lone UTF-16 surrogate (sent as U+FFFD, so a filter would match rows
 * holding a replacement character). Checks every string and key in the parsed tree.
 */
export function unsafeStringProblems(value: unknown, path = ''): ConfigProblem[] {
  const at = (p: string, s: string): ConfigProblem[] => {
    if (s.includes('\u0000')) return [{ path: p, message: 'contains a NUL character (\\0), which PostgreSQL cannot store or compare' }];
    if (LONE_SURROGATE.test(s)) return [{ path: p, message: 'contains a lone UTF-16 surrogate (invalid Unicode, e.g. "\\uD800"), which cannot be sent to PostgreSQL unchanged' }];
    return [];
  };
  if (typeof value === 'string') return at(path, value);
  if (Array.isArray(value)) return value.flatMap((item, i) => unsafeStringProblems(item, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => {
      const sub = path ? `${path}.${k}` : k;
      return [...at(sub, k), ...unsafeStringProblems(v, sub)];
    });
  }
  return [];
}
