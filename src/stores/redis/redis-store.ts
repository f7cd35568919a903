import type { Redis } from 'ioredis';
import { UserError, type ConfigProblem } from '../../errors.js';
import type { AnchorRange } from '../../policy/expiry.js';
import { redactUrl } from '../../redact.js';
import { expiredRangesOf, selectionParts, selectsAll, type Selection, type SelectionParts } from '../selection.js';
import type { BatchResult, BatchSpec, KeyRange, Store, Unjudged } from '../store.js';
import type { RedisTarget as RedisConnection } from './connect.js';
import { eraseAllKeys } from './erase-all-keys.js';
import { eraseKeys } from './erase-keys.js';
import { globCanMatchPrefix } from './glob-can-match-prefix.js';
import { KeySubject } from './key-subject.js';
import { perSlot, walkKeys, withKeySpace } from './key-space.js';
import { pagesFrom } from './pages-from.js';
import { persistKeys } from './persist-keys.js';
import { readAnchors } from './read-anchors.js';
import { addHeld, addTally, addUnjudged, emptyTally, NO_SUBJECT, type PageTally } from './redis-shape.js';
import { shapeOfRule, shapeProblems } from './shape-of-rule.js';
import { subjectOfRule, subjectProblems, type RuleSubject } from './subject-of-rule.js';
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
 *
 * People (subject-of-rule.ts): a rule names its person by a `{subject}` segment of its keys
 * or, for hashes, by a field. An erasure (`Selection` of one subject) takes that person's
 * keys whole, whatever their age; a sunset (`all`) takes every key of the rule's shape
 * whole, whatever its anchor. Keys of held subjects are never changed by a sweep: a
 * key's segment is compared with the held ids before its page reaches the shape (a key
 * name cannot change), a field inside the script that changes the key.
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
    // Judged by what a sweep scans (a `{subject}` placeholder matches like `*` there), named as written.
    const scanned = keys && (KeySubject.of(keys)?.sweepMatch ?? keys);
    if (!keys) at('keys', `a rule on redis store ${this.name} needs keys: the SCAN pattern of the keys to sweep, e.g. "session:*"`);
    else if (MATCHES_EVERYTHING.test(scanned)) {
      at('keys', `${JSON.stringify(keys)} matches every key in ${redactUrl(this.#target.url)}; name the keys to sweep, e.g. "session:*"`);
    } else if (globCanMatchPrefix(scanned, `${this.queuePrefix}:`)) {
      at(
        'keys',
        `${JSON.stringify(keys)} can match the queue's own keys (${JSON.stringify(`${this.queuePrefix}:...`)}, queuePrefix); ` +
          'they are never swept, but name the keys to sweep with a literal start that cannot, e.g. "session:*"',
      );
    }
    if (!rule.target.anchorUnit) at('anchorUnit', `a rule on redis store ${this.name} needs anchorUnit: ms, s or iso`);
    problems.push(...shapeProblems(rule, path), ...subjectProblems(rule, path));
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
    const { subject, parts } = this.#selected(rule, selection);
    if (parts.none) return 0;
    if (selectsAll(parts)) return (await this.#eraseAll(rule, subject, parts.except, false)).items;
    if (parts.ranges === null) return this.#erase(rule, subject, parts.subject!, false);
    const { items, ttls } = await this.#survey(rule, subject, parts.ranges, parts.except, 'count');
    return rule.action === 'expire' ? items + ttls : items;
  }

  /**
   * Keys the rule covers whose anchor cannot be judged, by reason; only non-zero reasons.
   * With a `{subject}` placeholder, also keys its glob matches whose part there is not one
   * segment (`session::x`, `session:a:b` for `session:{subject}`): never swept, so reported.
   */
  async unjudged(rule: Rule): Promise<Unjudged> {
    return (await this.#survey(rule, subjectOfRule(rule), [], [], 'unjudged')).unjudged;
  }

  /**
   * Items the pattern's keys hold (the queue's own excepted), expired or not, for the
   * fraction limit: keys of a hash rule, members of sorted sets, entries of streams.
   */
  total(rule: Rule): Promise<number> {
    const shape = shapeOfRule(rule);
    const subject = subjectOfRule(rule);
    let total = 0;
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, pattern(rule, subject), async (node, page) => {
        const keys = this.#ours(page).filter((key) => subject.kind !== 'key' || subject.key.segmentOf(key) !== null);
        for (const n of await perSlot(space, keys, (group) => shape.total(node, group))) total += n;
      });
      return total;
    });
  }

  /** One open range: the batch walks the whole key space. */
  async partition(rule: Rule, selection: Selection): Promise<KeyRange[]> {
    this.#selected(rule, selection);
    return [{ after: null, upTo: null }];
  }

  async apply(batch: BatchSpec<RedisTarget>): Promise<BatchResult> {
    const { rule, keyRange, dryRun } = batch;
    const { subject, parts } = this.#selected(rule, batch.selection);
    if (keyRange.after !== null || keyRange.upTo !== null) {
      throw new Error(`redis store ${this.name} sweeps in one batch, but was given the key range ${JSON.stringify(keyRange)}`);
    }
    if (parts.none) return { rows: 0 };
    // An erasure is immediate whatever the action: an `expire` rule's keys are deleted
    // too, not given a TTL (a TTL would keep the person's data until it fires).
    if (parts.ranges === null && parts.subject !== null) return { rows: await this.#erase(rule, subject, parts.subject, !dryRun) };
    // A sunset: every key of the rule, whatever its anchor, deleted whatever the action
    // (an `expire` rule's keys too: the service that would let their TTLs fire is going).
    if (parts.ranges === null) {
      const { items, held } = await this.#eraseAll(rule, subject, parts.except, !dryRun);
      return { rows: items, ...(held > 0 ? { held } : {}) };
    }
    const { items, ttls, held } = await this.#survey(rule, subject, parts.ranges, parts.except, dryRun ? 'count' : 'apply');
    // `action: expire` also reports the TTLs it set (dry: would set); `rows` are the keys deleted.
    return { rows: items, ...(rule.action === 'expire' ? { ttls } : {}), ...(held ? { held } : {}) };
  }

  /**
   * The raw ids the rule's keys carry (their `{subject}` segment, or their subject field),
   * a SCAN page at a time; an id repeats when several keys carry it. A segment is read as
   * UTF-8. Keys under the queue prefix are never read.
   */
  scanSubjects(rule: Rule): AsyncIterable<readonly string[]> {
    const subject = subjectOfRule(rule);
    if (subject.kind === 'none') throw new Error(`rule ${rule.id} names no subject: its keys carry no one's id`);
    return pagesFrom<string[]>((emit) =>
      withKeySpace(this.#target, (space) =>
        walkKeys(space, pattern(rule, subject), async (node, page) => {
          const keys = this.#ours(page);
          const ids =
            subject.kind === 'key'
              ? keys.flatMap((key) => {
                  const segment = subject.key.segmentOf(key);
                  return segment === null ? [] : [KeySubject.decode(segment)];
                })
              : (await perSlot(space, keys, (group) => readAnchors(node, group, subject.field))).flat().flatMap((read) => (read.kind === 'value' ? [read.text] : []));
          if (ids.length > 0) await emit(ids);
        }),
      ),
    );
  }

  /**
   * How the rule names its person, and the selection taken apart. A rule that names no one
   * takes only a sweep or a sunset, without holds (`expiredRangesOf` refuses the rest); a `{subject}`
   * segment cannot name an empty id or one holding `:`, and such an erasure is refused
   * rather than matched against anything else.
   */
  #selected(rule: Rule, selection: Selection): { subject: RuleSubject; parts: SelectionParts } {
    const subject = subjectOfRule(rule);
    if (subject.kind === 'none') {
      const all = selection.kind === 'all' && (selection.exceptSubjects ?? []).length === 0;
      return { subject, parts: all ? selectionParts(selection) : { ranges: expiredRangesOf(selection), subject: null, except: [], none: false } };
    }
    const parts = selectionParts(selection);
    if (parts.subject !== null && subject.kind === 'key' && !KeySubject.canName(parts.subject)) {
      throw new UserError(
        `rule ${rule.id} names the person by one segment of its keys ${JSON.stringify(rule.target.keys)}, which is never empty and never holds ":"; ` +
          `this subject's id is ${parts.subject === '' ? 'empty' : 'one with ":"'}, so the rule cannot select its keys: nothing was erased through it`,
      );
    }
    return { subject, parts };
  }

  /**
   * One person's keys, whatever their age: those whose `{subject}` segment is exactly `id`
   * (SCAN MATCH with the id's glob characters escaped, then each key re-checked), or whose
   * subject field holds exactly `id` (read in the script that deletes). Returns the items
   * they held; `change` false counts only.
   */
  #erase(rule: Rule, subject: RuleSubject, id: string, change: boolean): Promise<number> {
    if (subject.kind === 'none') throw new Error(`rule ${rule.id} names no subject`);
    const erasure = { shape: rule.target.shape ?? 'hash', field: subject.kind === 'field' ? subject.field : null, id };
    return this.#sumOverKeys(rule, subject, id, (node, group) => eraseKeys(node, group, erasure, change));
  }

  /**
   * A service sunset: every key the rule covers (its pattern, outside the queue's prefix;
   * with a `{subject}` segment, keys that have one, as a sweep takes them), of the rule's
   * shape, whatever its anchor. Keys of `except` (held ids) stay: by their segment, judged
   * here (a key name cannot change), or by their subject field, read in the script that
   * deletes. Returns the items deleted (`change` false: that would be) and those held.
   */
  #eraseAll(rule: Rule, subject: RuleSubject, except: readonly string[], change: boolean): Promise<{ items: number; held: number }> {
    const shape = rule.target.shape ?? 'hash';
    const hold = subject.kind === 'field' && except.length > 0 ? { field: subject.field, held: except } : null;
    // An id that cannot be a segment is on no key: nothing to keep for it.
    const heldSegments = new Set(subject.kind === 'key' ? except.filter(KeySubject.canName).map(KeySubject.segment) : []);
    const total = { items: 0, held: 0 };
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, pattern(rule, subject), async (node, page) => {
        const keys: Buffer[] = [];
        const held: Buffer[] = [];
        for (const key of this.#ours(page)) {
          const segment = subject.kind === 'key' ? subject.key.segmentOf(key) : '';
          // Not one segment where the person goes: not the rule's item (a sweep leaves it too).
          if (segment === null) continue;
          (heldSegments.has(segment) ? held : keys).push(key);
        }
        for (const done of await perSlot(space, keys, (group) => eraseAllKeys(node, group, shape, hold, change))) {
          total.items += done.items;
          total.held += done.held;
        }
        for (const kept of await perSlot(space, held, (group) => eraseAllKeys(node, group, shape, null, false))) total.held += kept.items;
      });
      return total;
    });
  }

  /**
   * `action: expire`: lifts the TTLs of the keys of `id` (null: every key the rule covers,
   * for a hold on the whole rule), found as an erasure finds them, so that a TTL a sweep
   * set before a legal hold cannot delete the held keys. A subject field is compared in
   * the script that runs PERSIST. A TTL the application set itself is lifted too: the key
   * is kept, which is the safe direction; after the hold's release the next sweep sets the
   * rule's TTL again. Other actions set no TTL: nothing to lift.
   */
  cancelExpiry(rule: Rule, id: string | null): Promise<number> {
    if (rule.action !== 'expire') return Promise.resolve(0);
    const subject = subjectOfRule(rule);
    if (id !== null && subject.kind === 'none') throw new Error(`rule ${rule.id} names no subject: it cannot tell whose its keys are`);
    // An id that cannot be one key segment is on no key of the rule.
    if (id !== null && subject.kind === 'key' && !KeySubject.canName(id)) return Promise.resolve(0);
    const owner = id !== null && subject.kind === 'field' ? { field: subject.field, id } : null;
    return this.#sumOverKeys(rule, subject, id, (node, group) => persistKeys(node, group, owner));
  }

  /**
   * Walks the keys of `id` in the rule (null: every key it covers) outside the queue's
   * prefix, and sums what `work` returns for them, slot group by slot group. With a
   * `{subject}` segment only keys whose segment is exactly `id` (SCAN MATCH with the id's
   * glob characters escaped, then each key re-checked) or, for null, keys that have one
   * (a sweep leaves the others alone); a subject field is `work`'s to check, atomically.
   */
  #sumOverKeys(rule: Rule, subject: RuleSubject, id: string | null, work: (node: Redis, keys: readonly Buffer[]) => Promise<number>): Promise<number> {
    const wanted = id === null ? null : KeySubject.segment(id);
    let sum = 0;
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, subject.kind === 'key' && id !== null ? subject.key.matchFor(id) : pattern(rule, subject), async (node, page) => {
        // The escaped MATCH names only the id already; the exact check of each key is the
        // second lock, should a glob ever be read otherwise than here.
        const keys = this.#ours(page).filter((key) => {
          if (subject.kind !== 'key') return true;
          const segment = subject.key.segmentOf(key);
          return wanted === null ? segment !== null : segment === wanted;
        });
        for (const n of await perSlot(space, keys, (group) => work(node, group))) sum += n;
      });
      return sum;
    });
  }

  /** Keys of the page outside our own queue's prefix. */
  #ours(keys: Buffer[]): Buffer[] {
    const queue = this.#queueKeys;
    return keys.filter((key) => !(key.length >= queue.length && key.subarray(0, queue.length).equals(queue)));
  }

  /**
   * Walks the rule's keys once, a page at a time, handing the shape only keys outside the
   * queue's prefix: it counts and judges them, and (`apply`) changes the expired. Held
   * subjects (`except`) are kept: keys whose `{subject}` segment is held never reach the
   * shape (what it would have changed in them is counted as `held`); a subject field is
   * the shape's to check, in the script that changes each key.
   */
  #survey(rule: Rule, subject: RuleSubject, ranges: readonly AnchorRange[], except: readonly string[], mode: 'count' | 'apply' | 'unjudged'): Promise<PageTally> {
    const shape = shapeOfRule(rule);
    const survey = emptyTally();
    const hold = subject.kind === 'field' && except.length > 0 ? { field: subject.field, held: except } : null;
    // An id that cannot be a segment is on no key: nothing to keep for it.
    const heldSegments = new Set(subject.kind === 'key' ? except.filter(KeySubject.canName).map(KeySubject.segment) : []);
    // On a cluster, SCAN lists one master's keys and a script may touch one slot only:
    // each master is walked, and each page judged slot by slot on the master holding it.
    return withKeySpace(this.#target, async (space) => {
      await walkKeys(space, pattern(rule, subject), async (node, page) => {
        const keys: Buffer[] = [];
        const held: Buffer[] = [];
        for (const key of this.#ours(page)) {
          const segment = subject.kind === 'key' ? subject.key.segmentOf(key) : '';
          if (segment === null) addUnjudged(survey.unjudged, NO_SUBJECT);
          else if (heldSegments.has(segment)) held.push(key);
          else keys.push(key);
        }
        const tallies = await perSlot(space, keys, async (group) =>
          mode === 'unjudged'
            ? { ...emptyTally(), unjudged: await shape.unjudged(node, group) }
            : mode === 'apply'
              ? shape.apply(node, group, ranges, hold)
              : shape.count(node, group, ranges, hold),
        );
        for (const tally of tallies) addTally(survey, tally);
        for (const tally of await perSlot(space, held, (group) => shape.count(node, group, ranges))) addHeld(survey, tally.items + tally.ttls);
      });
      return survey;
    });
  }
}

/** What the rule's keys are scanned with: its pattern, a `{subject}` placeholder read as `*` (each key then re-checked). */
function pattern(rule: Rule, subject: RuleSubject): string {
  if (!rule.target.keys) throw new Error(`rule ${rule.id} has no keys pattern`);
  return subject.kind === 'key' ? subject.key.sweepMatch : rule.target.keys;
}
