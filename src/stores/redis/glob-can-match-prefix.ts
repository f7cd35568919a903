import { BYTES, tokenize } from './glob-tokens.js';

/**
 * True when some key starting with `prefix` matches the glob `pattern`, read as Redis
 * reads it (`stringmatchlen`: bytes, `\` escapes, `[^a-z]` classes, an unclosed `[`
 * running to the end). `"*:*"`, `"[a-z]*"` and `"ret*"` can match `retention:...`;
 * `"session:*"` cannot.
 */
export function globCanMatchPrefix(pattern: string, prefix: string): boolean {
  const tokens = tokenize(Buffer.from(pattern, 'utf8'));
  // The pattern positions reachable after reading some text, closed over skipping `*`.
  const close = (states: Set<number>): Set<number> => {
    for (const i of states) if (tokens[i]?.kind === 'star') states.add(i + 1);
    return states;
  };
  let states = close(new Set([0]));
  for (const byte of Buffer.from(prefix, 'utf8')) {
    const next = new Set<number>();
    for (const i of states) {
      const token = tokens[i];
      if (!token) continue;
      if (token.kind === 'star') next.add(i);
      else if (token.kind === 'any' || (token.kind === 'set' && token.has(byte)) || (token.kind === 'byte' && token.byte === byte)) next.add(i + 1);
    }
    states = close(next);
  }
  // What is left of the pattern must match some rest of the key: every remaining class
  // has to admit at least one byte.
  return [...states].some((i) => tokens.slice(i).every((t) => t.kind !== 'set' || BYTES.some(t.has)));
}
