/**
 * Numbers written in English words, as policies write periods: "six", "forty-five",
 * "one hundred and eighty", "two thousand". Whole numbers only; "a"/"an" ("a year") is not
 * read as one, since "a" precedes far more nouns than periods.
 */

const UNITS: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9,
  ten: 10, eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16,
  seventeen: 17, eighteen: 18, nineteen: 19,
};
const TENS: Readonly<Record<string, number>> = {
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
const SCALES: Readonly<Record<string, number>> = { hundred: 100, thousand: 1000 };

const WORD = `(?:${[...Object.keys(UNITS), ...Object.keys(TENS), ...Object.keys(SCALES)].sort((a, b) => b.length - a.length).join('|')})`;

/**
 * A run of number words (regex source, no groups): words joined by spaces or hyphens, with
 * "and" allowed only after "hundred" or "thousand" ("one hundred and eighty"), so that
 * "three and six months" stays two numbers.
 */
export const NUMBER_WORDS = `${WORD}(?:(?:\\s+|-)${WORD}|(?<=hundred|thousand)\\s+and\\s+${WORD})*`;

/** The value of a run `NUMBER_WORDS` matched, or undefined when the words do not make one number. */
export function parseNumberWords(text: string): number | undefined {
  const words = text.toLowerCase().split(/[\s-]+/).filter((w) => w !== 'and');
  let total = 0;
  let current = 0;
  // What may follow: after "forty" a unit ("forty-five"), not another ten ("forty twenty").
  let last: 'unit' | 'ten' | 'hundred' | 'thousand' | undefined;
  for (const word of words) {
    const unit = UNITS[word];
    const ten = TENS[word];
    if (unit !== undefined) {
      if (last === 'unit' || (last === 'ten' && unit >= 10)) return undefined;
      current += unit;
      last = 'unit';
    } else if (ten !== undefined) {
      if (last === 'unit' || last === 'ten') return undefined;
      current += ten;
      last = 'ten';
    } else if (word === 'hundred') {
      if (last === 'hundred' || current >= 100) return undefined;
      current = (current === 0 ? 1 : current) * SCALES.hundred!;
      last = 'hundred';
    } else if (word === 'thousand') {
      if (last === 'thousand') return undefined;
      total += (current === 0 ? 1 : current) * SCALES.thousand!;
      current = 0;
      last = 'thousand';
    } else {
      return undefined;
    }
  }
  return last === undefined ? undefined : total + current;
}
