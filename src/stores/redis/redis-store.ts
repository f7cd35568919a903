import type { Redis } from 'ioredis';
import type { ConfigProblem } from '../../errors.js';
import type { AnchorRange } from '../../policy/expiry.js';
import type { Rule } from '../../policy/rule.js';
import { redactUrl } from '../../redact.js';
import type { BatchResult, BatchSpec, KeyRange, Store } from '../store.js';
import { pingRedis, withRedis, type RedisTarget } from './connect.js';
import { expireKeys } from './expire-keys-script.js';

/**
 * Keys asked of SCAN per page, and so checked by one script call. The script blocks the
 * server while it runs: a thousand keys is about a millisecond.
 */
export const SCAN_COUNT = 1_000;

/** A pattern made only of wildcards matches every key in the database, the queue's too. */
const MATCHES_EVERYTHING = /^[*?]*\*[*?]*$/;

/**
 * Hashes in Redis (sessions, caches), swept by SCAN MATCH: a key is expired when its
 * anchor field, epoch milliseconds, lies in the expired ranges. Only delete.
 *
 * SCAN cannot be split ahead of time (its cursor is a position in a hash table that
 * resizes), so a sweep is one batch that walks every page; each page is judged and
 * deleted atomically by a script, so the re-check at deletion is exact however long the
 * walk takes.
 */
export class RedisStore implements Store {
  readonly kind = 'redis';
  readonly #target: RedisTarget;

  constructor(
    readonly name: string,
    url: string,
    origin: string,
  ) {
    this.#target = { url, origin };
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
    }
    if (rule.action !== 'delete') at('action', `a rule on redis store ${this.name} can only delete keys`);
    try {
      await this.ping();
    } catch (error) {
      at('store', (error as Error).message);
    }
    return problems;
  }

  count(rule: Rule, ranges: readonly AnchorRange[]): Promise<number> {
    return withRedis(this.#target, (redis) => walk(redis, pattern(rule), (keys) => expireKeys(redis, keys, rule.anchor, ranges, false)));
  }

  /** Keys matching the pattern, expired or not, for the fraction limit. */
  total(rule: Rule): Promise<number> {
    return withRedis(this.#target, (redis) => walk(redis, pattern(rule), async (keys) => keys.length));
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
    const rows = await withRedis(this.#target, (redis) => walk(redis, pattern(rule), (keys) => expireKeys(redis, keys, rule.anchor, ranges, !dryRun)));
    return { rows };
  }
}

function pattern(rule: Rule): string {
  if (!rule.keys) throw new Error(`rule ${rule.id} has no keys pattern`);
  return rule.keys;
}

/**
 * Walks SCAN MATCH to the end, handing each page to `judge` and summing what it returns.
 * The next page is requested while the current one is judged, so the two round trips
 * overlap. A key SCAN returns twice (possible while Redis resizes its table) is deleted
 * once; a count may include it twice.
 */
async function walk(redis: Redis, match: string, judge: (keys: string[]) => Promise<number>): Promise<number> {
  const scan = (cursor: string) => {
    const page = redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
    page.catch(() => undefined); // awaited below; this only keeps an early exit from leaving it unhandled
    return page;
  };
  let total = 0;
  let page = scan('0');
  for (;;) {
    const [next, keys] = await page;
    const following = next === '0' ? null : scan(next);
    total += await judge(keys);
    if (!following) return total;
    page = following;
  }
}
