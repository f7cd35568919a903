import { SUBJECT_PLACEHOLDER } from '../../policy/rule.js';
import { globCanMatchPrefix } from './glob-can-match-prefix.js';

/**
 * True when some Redis key could match both patterns (`{subject}` read as `*`): what a
 * sunset asks before applying a rule on a store where the inventory keeps keys. Each
 * pattern only matches keys starting with its literal head (the text before its first
 * `*?[\`); when one pattern cannot match any key starting with the other's head, no key
 * matches both. Otherwise the answer is yes, maybe: `session:*` and `session:{subject}:*`
 * overlap, `session:*` and `cart:*` do not. Leaning to yes is keeping, the safe direction.
 */
export function keyPatternsOverlap(a: string, b: string): boolean {
  const [x, y] = [a.split(SUBJECT_PLACEHOLDER).join('*'), b.split(SUBJECT_PLACEHOLDER).join('*')];
  return globCanMatchPrefix(x, literalHead(y)) && globCanMatchPrefix(y, literalHead(x));
}

function literalHead(pattern: string): string {
  const at = pattern.search(/[*?[\\]/);
  return at < 0 ? pattern : pattern.slice(0, at);
}
