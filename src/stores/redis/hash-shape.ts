import type { Redis } from 'ioredis';
import { inRanges, type AnchorRange } from '../../policy/expiry.js';
import type { Unjudged } from '../store.js';
import { deleteIfUnchanged } from './delete-if-unchanged.js';
import { parseAnchor } from '../anchor-text.js';
import { heldByField, type FieldHold } from './field-hold.js';
import { readAnchors } from './read-anchors.js';
import { addHeld, addUnjudged, emptyTally, IMPLAUSIBLE, MALFORMED, MISSING, NOT_A_HASH, PageWalkShape, type PageTally } from './redis-shape.js';
import type { AnchorUnit } from './target.js';

/** A key judged expired, with the exact text its anchor held when judged. */
export interface JudgedKey {
  key: Buffer;
  anchor: string;
}

/** A key whose anchor could be read and judged, with its instant (epoch ms, `+ 0.5` for sub-ms digits). */
export interface ReadKey extends JudgedKey {
  ms: number;
}

/**
 * Reads the anchor field of each key of the page and sorts the keys: judged ones (with
 * their instant), and the rest counted by reason into `unjudged` (a key gone since SCAN
 * listed it is neither).
 */
export async function judgeHashes(redis: Redis, keys: readonly Buffer[], field: string, unit: AnchorUnit, unjudged: Unjudged): Promise<ReadKey[]> {
  const reads = await readAnchors(redis, keys, field);
  const judged: ReadKey[] = [];
  reads.forEach((read, i) => {
    if (read.kind === 'gone') return;
    if (read.kind === 'missing') return addUnjudged(unjudged, MISSING);
    if (read.kind === 'not a hash') return addUnjudged(unjudged, NOT_A_HASH);
    const anchor = parseAnchor(read.text, unit);
    if (anchor.kind === 'malformed') return addUnjudged(unjudged, MALFORMED);
    if (anchor.kind === 'implausible') return addUnjudged(unjudged, IMPLAUSIBLE);
    judged.push({ key: keys[i]!, anchor: read.text, ms: anchor.ms });
  });
  return judged;
}

/**
 * Hashes with a date field (sessions, caches): a key is an item, expired when its anchor
 * field, read strictly in `unit`, lies in the expired ranges; deleted only if the field
 * still holds the text it was judged by (compare-and-delete in one script) and, with a
 * `hold`, its subject field holds no held id (read in that same script).
 */
export class HashShape extends PageWalkShape {
  protected override readonly readsFields = true;

  constructor(
    readonly field: string,
    readonly unit: AnchorUnit,
  ) {
    super();
  }

  /** Every key of the pattern, whatever its type: the fraction limit counts keys. */
  async total(_redis: Redis, keys: readonly Buffer[]): Promise<number> {
    return keys.length;
  }

  protected async page(redis: Redis, keys: readonly Buffer[], ranges: readonly AnchorRange[], remove: boolean, hold: FieldHold | null): Promise<PageTally> {
    const tally = emptyTally();
    const expired = (await judgeHashes(redis, keys, this.field, this.unit, tally.unjudged)).filter((k) => inRanges(ranges, k.ms));
    if (remove) {
      const deleted = await deleteIfUnchanged(redis, expired, this.field, hold);
      tally.items = deleted.changed;
      addHeld(tally, deleted.held);
    } else {
      const held = (await heldByField(redis, expired.map((k) => k.key), hold)).filter(Boolean).length;
      tally.items = expired.length - held;
      addHeld(tally, held);
    }
    return tally;
  }
}
