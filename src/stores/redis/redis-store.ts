import type { ConfigProblem } from '../../errors.js';
import type { AnchorRange } from '../../policy/expiry.js';
import { redactUrl } from '../../redact.js';
import { expiredRangesOf, type Selection } from '../selection.js';
import type { BatchResult, BatchSpec, KeyRange, Store, Unjudged } from '../store.js';
import type { RedisTarget as RedisConnection } from './connect.js';
import { globCanMatchPrefix } from './glob-can-match-prefix.js';
import { perSlot, walkKeys, withKeySpace } from './key-space.js';
import { addTally, emptyTally, type PageTally } from './redis-shape.js';
import { shapeOfRule, shapeProblems } from './shape-of-rule.js';
import type { RedisRule as Rule, RedisTarget } from './target.js';

export { SCAN_COUNT } from './key-space.js';

/** A pattern made only of wildcards matches every key in the database, the queue's too. */
const MATCHES_EVERYTHING = /^[*?]*\*[*?]*$/;

/**
 * Keys of a Redis database matching a pattern (SCAN MATCH), holding dated data in one of
 * the shapes of shape-of-rule.ts: hashes with a date field (a key is an item; delete, or
 * `expire`: a TTL at the instant its period ends), sorted sets scored by time (members),
 * streams (entries). The shape judges each page and re-checks atomically at the change.
 *
 * A key under the product's own queue prefix (`<queuePrefix>:`) is never read, counted or
 * deleted, whatever the pattern: a broad pattern must not be able to delete the queue's
 * jobs, locks and schedulers. An anchor that is missing, malformed or implausible for its
 * unit is never judged: it is counted by `unjudged`, for `plan` and `run` to report.
 *
 * SCAN cannot be split ahead of time (its cursor is a position in a hash table that
 * resizes), so a sweep is one batch that walks every page. Each page is read in one
 * script call, judged here, and its expired keys deleted by a second script only if their
 * anchor still holds the text that was judged, so the re-check at deletion is exact
 * however long the walk takes.
 */
export class RedisStore implements Store<RedisTarget> {
  readonly kind = 'redis';
  readonly #target: RedisConnection;
  /** `<queuePrefix>:`, as bytes: the start of every key of our own queue. */
  readonly #queueKeys: Buffer;

  constructor(
    readonly name: string,
    url: string,
    origin: string,
    readonly queuePrefix: string,
  ) {
    this.#target = { url, origin };
    this.#queueKeys = Buffer.from(`${queuePrefix}:`, 'utf8');
  }

  /** Connects once (on a cluster: to every master). */
  ping(): Promise<void> {
    return withKeySpace(this.#target, async (space) => void (await Promise.all(space.nodes.map((node) => node.ping()))));
  }

  /** Never the state database: the checkpoint and audit entry commit after the change. */
  sharesTransactionsWith(): boolean {
    return false;
  }

  /** The key pattern: what plan and the audit show. */
  describe(rule: Rule): string {
    return rule.target.keys;
  }

  /** Nothing to close: every operation opens and closes its own connection. */
  async close(): Promise<void> {}

  async inspect(rule: Rule, path: string): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    const at = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
    const { keys } = rule.target;
    if (!keys) at('keys', `a rule on redis store ${this.name} needs keys: the SCAN pattern of the keys to sweep, e.g. "session:*"`);
    else if (MATCHES_EVERYTHING.test(keys)) {
      at('keys', `${JSON.stringify(keys)} matches every key in ${redactUrl(this.#target.url)}; name the keys to sweep, e.g. "session:*"`);
    } else if (globCanMatchPrefix(keys, `${this.queuePrefix}:`)) {
      at(
        'keys',
        `${JSON.stringify(keys)} can match the queue's own keys (${JSON.stringify(`${this.queuePrefix}:...`)}, queuePrefix); ` +
          'they are never swept, but name the keys to sweep with a literal start that cannot, e.g. "session:*"',
      );
    }
    if (!rule.target.anchorUnit) at('anchorUnit', `a rule on redis store ${this.name} needs anchorUnit: ms, s or iso`);
    problems.push(...shapeProblems(rule, path));
    try {
      await this.ping();
    } catch (error) {
      at('store', (error as Error).message);
    }
    return problems;
  }

  /**
   * What a sweep would change now. For `action: expire` that is the keys it would delete
   * and the keys it would give an earlier TTL: a TTL is a deletion that Redis carries out
   * later, so the blast-radius limits must count it (a `retain: P1D` typo for `P1Y` would
   * otherwise put a one-day TTL on every key without anyone confirming it).
   */
  async count(rule: Rule, selection: Selection): Promise<number> {
    const { items, ttls } = await this.#survey(rule, expiredRangesOf(selection), 'count');
    return rule.action === 'expire' ? items + ttls : items;
  }

  /** Keys the rule covers whose anchor cannot be judged, by reason; only non-zero reasons. */
  async unjudged(rule: Rule): Promise<Unjudged> {
    return (await this.#survey(rule, [], 'unjudged')).unjudged;
  }

  /**
   * Items the pattern's keys hold (the queue's own excepted), expired or not, for the
   * fraction limit: keys of a hash rule, members of sorted sets, entries of streams.
   */
  total(rule: Rule): Promise<number> {
    const shape = shapeOfRule(rule);
    let total = 0;
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, pattern(rule), async (node, keys) => {
        for (const n of await perSlot(space, this.#ours(keys), (group) => shape.total(node, group))) total += n;
      });
      return total;
    });
  }

  /** One open range: the batch walks the whole key space. */
  async partition(_rule: Rule, selection: Selection): Promise<KeyRange[]> {
    expiredRangesOf(selection);
    return [{ after: null, upTo: null }];
  }

  async apply(batch: BatchSpec<RedisTarget>): Promise<BatchResult> {
    const { rule, keyRange, dryRun } = batch;
    const ranges = expiredRangesOf(batch.selection);
    if (keyRange.after !== null || keyRange.upTo !== null) {
      throw new Error(`redis store ${this.name} sweeps in one batch, but was given the key range ${JSON.stringify(keyRange)}`);
    }
    const { items, ttls } = await this.#survey(rule, ranges, dryRun ? 'count' : 'apply');
    // `action: expire` also reports the TTLs it set (dry: would set); `rows` are the keys deleted.
    return rule.action === 'expire' ? { rows: items, ttls } : { rows: items };
  }

  /** Keys of the page outside our own queue's prefix. */
  #ours(keys: Buffer[]): Buffer[] {
    const queue = this.#queueKeys;
    return keys.filter((key) => !(key.length >= queue.length && key.subarray(0, queue.length).equals(queue)));
  }

  /**
   * Walks the rule's keys once, a page at a time, handing the shape only keys outside the
   * queue's prefix: it counts and judges them, and (`apply`) changes the expired.
   */
  #survey(rule: Rule, ranges: readonly AnchorRange[], mode: 'count' | 'apply' | 'unjudged'): Promise<PageTally> {
    const shape = shapeOfRule(rule);
    const survey = emptyTally();
    // On a cluster, SCAN lists one master's keys and a script may touch one slot only:
    // each master is walked, and each page judged slot by slot on the master holding it.
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, pattern(rule), async (node, page) => {
        const keys = this.#ours(page);
        if (keys.length === 0) return;
        const tallies = await perSlot(space, keys, async (group) =>
          mode === 'unjudged'
            ? { ...emptyTally(), unjudged: await shape.unjudged(node, group) }
            : mode === 'apply'
              ? shape.apply(node, group, ranges)
              : shape.count(node, group, ranges),
        );
        for (const tally of tallies) addTally(survey, tally);
      });
      return survey;
    });
  }
}

function pattern(rule: Rule): string {
  if (!rule.target.keys) throw new Error(`rule ${rule.id} has no keys pattern`);
  return rule.target.keys;
}
