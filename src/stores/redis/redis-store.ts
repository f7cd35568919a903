import type { Redis } from 'ioredis';
import type { ConfigProblem } from '../../errors.js';
import { inRanges, type AnchorRange } from '../../policy/expiry.js';
import type { AnchorUnit, Rule } from '../../policy/rule.js';
import { redactUrl } from '../../redact.js';
import type { BatchResult, BatchSpec, KeyRange, Store, Unjudged } from '../store.js';
import { pingRedis, withRedis, type RedisTarget } from './connect.js';
import { deleteIfUnchanged } from './delete-if-unchanged.js';
import { globCanMatchPrefix } from './glob-can-match-prefix.js';
import { parseAnchor } from './parse-anchor.js';
import { readAnchors } from './read-anchors.js';

/**
 * Keys asked of SCAN per page, and so read by one script call and deleted by another.
 * Each script blocks the server while it runs: a thousand keys is about a millisecond.
 */
export const SCAN_COUNT = 1_000;

/** A pattern made only of wildcards matches every key in the database, the queue's too. */
const MATCHES_EVERYTHING = /^[*?]*\*[*?]*$/;

/** Why a key the pattern covers is never judged, as `unjudged` reports it. */
const MISSING = 'missing anchor';
const MALFORMED = 'malformed anchor';
const IMPLAUSIBLE = 'implausible anchor';
const NOT_A_HASH = 'not a hash';

/** What one walk over the rule's keys found. */
interface Survey {
  /** Keys whose anchor lies in the expired ranges (deleted, unless a dry run). */
  expired: number;
  unjudged: Unjudged;
}

/**
 * Hashes in Redis (sessions, caches), swept by SCAN MATCH: a key is expired when its
 * anchor field, read strictly in the rule's `anchorUnit`, lies in the expired ranges.
 * Only delete.
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
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #target: RedisTarget;
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

  ping(): Promise<void> {
    return pingRedis(this.#target);
  }

  /** Never the state database: the checkpoint and audit entry commit after the change. */
  sharesTransactionsWith(): boolean {
    return false;
  }

  async inspect(rule: Rule, path: string): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    const at = (field: string, message: string) => problems.push({ path: `${path}.${field}`, message });
    if (!rule.keys) at('keys', `a rule on redis store ${this.name} needs keys: the SCAN pattern of the keys to sweep, e.g. "session:*"`);
    else if (MATCHES_EVERYTHING.test(rule.keys)) {
      at('keys', `${JSON.stringify(rule.keys)} matches every key in ${redactUrl(this.#target.url)}; name the keys to sweep, e.g. "session:*"`);
    } else if (globCanMatchPrefix(rule.keys, `${this.queuePrefix}:`)) {
      at(
        'keys',
        `${JSON.stringify(rule.keys)} can match the queue's own keys (${JSON.stringify(`${this.queuePrefix}:...`)}, queuePrefix); ` +
          'they are never swept, but name the keys to sweep with a literal start that cannot, e.g. "session:*"',
      );
    }
    if (!rule.anchorUnit) at('anchorUnit', `a rule on redis store ${this.name} needs anchorUnit: ms, s or iso`);
    if (rule.action !== 'delete') at('action', `a rule on redis store ${this.name} can only delete keys`);
    try {
      await this.ping();
    } catch (error) {
      at('store', (error as Error).message);
    }
    return problems;
  }

  async count(rule: Rule, ranges: readonly AnchorRange[]): Promise<number> {
    return (await this.#survey(rule, ranges, false)).expired;
  }

  /** Keys the rule covers whose anchor cannot be judged, by reason; only non-zero reasons. */
  async unjudged(rule: Rule): Promise<Unjudged> {
    return (await this.#survey(rule, [], false)).unjudged;
  }

  /** Keys matching the pattern (the queue's own excepted), expired or not, for the fraction limit. */
  total(rule: Rule): Promise<number> {
    let total = 0;
    return withRedis(this.#target, async (redis) => {
      await walk(redis, pattern(rule), async (keys) => void (total += this.#ours(keys).length));
      return total;
    });
  }

  /** One open range: the batch walks the whole key space. */
  async partition(): Promise<KeyRange[]> {
    return [{ after: null, upTo: null }];
  }

  async apply(batch: BatchSpec): Promise<BatchResult> {
    const { rule, ranges, keyRange, dryRun } = batch;
    if (keyRange.after !== null || keyRange.upTo !== null) {
      throw new Error(`redis store ${this.name} sweeps in one batch, but was given the key range ${JSON.stringify(keyRange)}`);
    }
    return { rows: (await this.#survey(rule, ranges, !dryRun)).expired };
  }

  /** Keys of the page outside our own queue's prefix. */
  #ours(keys: Buffer[]): Buffer[] {
    const queue = this.#queueKeys;
    return keys.filter((key) => !(key.length >= queue.length && key.subarray(0, queue.length).equals(queue)));
  }

  /** Walks the rule's keys once: counts, judges, and (with `remove`) deletes the expired. */
  #survey(rule: Rule, ranges: readonly AnchorRange[], remove: boolean): Promise<Survey> {
    const unit = anchorUnit(rule);
    const survey: Survey = { expired: 0, unjudged: {} };
    const unjudged = (reason: string) => (survey.unjudged[reason] = (survey.unjudged[reason] ?? 0) + 1);
    return withRedis(this.#target, async (redis) => {
      await walk(redis, pattern(rule), async (page) => {
        const keys = this.#ours(page);
        const reads = await readAnchors(redis, keys, rule.anchor);
        const expired: { key: Buffer; anchor: string }[] = [];
        reads.forEach((read, i) => {
          if (read.kind === 'gone') return;
          if (read.kind === 'missing') return unjudged(MISSING);
          if (read.kind === 'not a hash') return unjudged(NOT_A_HASH);
          const anchor = parseAnchor(read.text, unit);
          if (anchor.kind === 'malformed') return unjudged(MALFORMED);
          if (anchor.kind === 'implausible') return unjudged(IMPLAUSIBLE);
          if (inRanges(ranges, anchor.ms)) expired.push({ key: keys[i]!, anchor: read.text });
        });
        survey.expired += remove ? await deleteIfUnchanged(redis, expired, rule.anchor) : expired.length;
      });
      return survey;
    });
  }
}

function pattern(rule: Rule): string {
  if (!rule.keys) throw new Error(`rule ${rule.id} has no keys pattern`);
  return rule.keys;
}

function anchorUnit(rule: Rule): AnchorUnit {
  if (!rule.anchorUnit) throw new Error(`redis rule ${rule.id} has no anchorUnit`);
  return rule.anchorUnit;
}

/**
 * Walks SCAN MATCH to the end, handing each page (keys as Buffers, exactly as stored) to
 * `judge`. The next page is requested while the current one is judged, so the round trips
 * overlap. A key SCAN returns twice (possible while Redis resizes its table) is deleted
 * once; a count may include it twice.
 */
async function walk(redis: Redis, match: string, judge: (keys: Buffer[]) => Promise<void>): Promise<void> {
  const scan = (cursor: string) => {
    const page = redis.scanBuffer(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    page.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    return page;
  };
  let page = scan('0');
  for (;;) {
    const [next, keys] = await page;
    const cursor = next.toString();
    const following = cursor === '0' ? null : scan(cursor);
    await judge(keys);
    if (!following) return;
    page = following;
  }
}
