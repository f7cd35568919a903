import {
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  type ObjectIdentifier,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { ConfigProblem } from '../../errors.js';
import { UserError } from '../../errors.js';
import { inRanges, type AnchorRange } from '../../policy/expiry.js';
import type { Rule } from '../../policy/rule.js';
import { selectionParts, type Selection } from '../selection.js';
import { requireSubjectSegment, subjectSegmentProblem } from '../subject-segment.js';
import type { BatchResult, BatchSpec, KeyRange, Store, StoreContext, Unjudged } from '../store.js';
import { createS3Client, translateError, type S3Credentials, type S3Place } from './connect.js';
import { floorSecond, lastMsOfSecond, type JudgedObject, type ListedObject } from './judged-object.js';
import { parseAnchor, plausible } from '../anchor-text.js';
import { headObjects, recheckObjects } from './recheck-objects.js';
import type { S3StoreConfig } from './s3-config.js';
import type { S3Target } from './s3-target.js';
import { subjectOfKey, subjectPrefix } from './subject-prefix.js';
import { relativePathProblem } from '../files/delete-confined.js';
import type { ObjectDeleter, ObjectDeletion } from '../owned-objects.js';

/** Objects per ListObjectsV2 page (S3's maximum), and so judged and deleted together. */
export const LIST_PAGE = 1_000;
/** Keys (or versions) per DeleteObjects request: S3's maximum. */
export const DELETE_BATCH = 1_000;

/** Why an object under the prefix is never judged, as `unjudged` reports it. */
const MISSING = 'missing anchor';
const MALFORMED = 'malformed anchor';
const IMPLAUSIBLE = 'implausible anchor';
/** A listed key that is not a plain path (`..`, `.` or empty segments). */
const NOT_PLAIN = 'not a plain key';

/** Which keys a walk lists, and whose each listed key is. */
interface Scope {
  /** The ListObjectsV2 prefix; a key the server returns outside it is ignored. */
  prefix: string;
  /**
   * The person a listed key belongs to, or null when the rule does not cover the key.
   * Absent: the rule names no person, and every key under the prefix is covered.
   */
  subjectOf?: (key: string) => string | null;
}

/** A selection as the walk applies it to one rule. */
interface Selecting {
  scope: Scope;
  /** Expired ranges, or null for a subject selection: age does not matter. */
  ranges: readonly AnchorRange[] | null;
  /** Subjects on hold: their objects are never deleted. */
  held: ReadonlySet<string>;
  /** The subject is itself held: nothing is selected. */
  none: boolean;
}

/** What one walk over the rule's objects found (and, with `remove`, did). */
interface Survey {
  expired: number;
  deleted: number;
  /** Objects the selection would have deleted but kept because their subject is on hold. */
  held: number;
  unjudged: Unjudged;
  skipped: { key: string; reason: string }[];
}

export interface S3StoreOptions {
  /** From the environment (AWS_ACCESS_KEY_ID...), or null when unset: every call is then refused. */
  credentials: S3Credentials | null;
  /** "stores.docs in config.yaml", for messages. */
  origin: string;
}

/**
 * Objects in one S3 (or S3-compatible) bucket under a rule's key prefix, aged by their
 * LastModified or by a user-metadata key holding an instant in a declared unit. Only
 * delete; change, then record (never in the state database's transaction).
 *
 * - Listing: ListObjectsV2 under the prefix, a page of 1,000 at a time, each page judged and
 *   (in a run) deleted before the next is read. A key the server returns outside the
 *   prefix is ignored, whatever the server did.
 * - LastModified has second precision in S3 (HeadObject's HTTP date has nothing finer), so
 *   an object stands for its whole second: it is expired only when every instant of that
 *   second is, never a fraction of a second early.
 * - A metadata anchor needs one HeadObject per object (at most 16 in flight). A missing,
 *   malformed or implausible anchor is counted by `unjudged`, never deleted.
 * - Re-check at deletion: S3 has no compare-and-delete on LastModified or metadata. Each
 *   expired object is HEADed again immediately before its DeleteObjects request and kept
 *   unless its ETag, LastModified second and (metadata rule) anchor text are what was
 *   judged; the request then carries each key's ETag, which a server that supports
 *   conditional deletes checks (a mismatch comes back as PreconditionFailed: kept, not
 *   counted). What remains is the HEAD -> DeleteObjects round trip (milliseconds): an
 *   overwrite inside it is deleted on a server that ignores the ETag (s3rver does), and
 *   an overwrite with byte-identical content (same ETag) on any server.
 * - Versioned buckets: a plain delete there only writes a delete marker and keeps every
 *   version, the personal data with it. So a bucket whose versioning is Enabled or
 *   Suspended is refused (by `check`, and by every count and run) unless the store says
 *   `versions: delete-all`; then an expired key loses every version and delete marker
 *   (DeleteObjects with VersionId), listed by ListObjectVersions just before. The tests'
 *   server (s3rver) has no versioning: the refusal is tested, this path is not.
 * - DeleteObjects answers per key: a key the server refuses (AccessDenied, an Object Lock
 *   hold) or does not mention is returned in `skipped` with the reason, never counted.
 * - People: a prefix with `{subject}` (`photos/{subject}/`) says whose each key is by that
 *   one segment; a sweep lists above it (`photos/`) and covers only keys with one
 *   non-empty segment there followed by the rest of the prefix. A subject selection lists
 *   only under the prefix with the id put in (an id that cannot be one segment is
 *   refused), re-checks that each returned key lies under it, and deletes its objects
 *   whatever their age, by key alone (no re-check of an anchor, no ETag condition: a
 *   re-upload is the person's too). Held subjects (`exceptSubjects`) are compared with a
 *   key's segment just before its deletion is decided, and kept and counted (`held`).
 */
export class S3Store implements Store<S3Target>, ObjectDeleter {
  readonly kind = 's3';
  readonly #client: S3Client;
  readonly #place: S3Place;

  constructor(
    readonly name: string,
    readonly config: S3StoreConfig,
    options: S3StoreOptions,
  ) {
    this.#client = createS3Client(config, options.credentials, options.origin);
    this.#place = { bucket: config.bucket, endpoint: config.endpoint ?? `AWS S3 ${config.region}`, origin: options.origin };
  }

  async ping(): Promise<void> {
    await this.#send('HeadBucket', () => this.#client.send(new HeadBucketCommand({ Bucket: this.config.bucket })));
  }

  /** Never the state database: the checkpoint and audit entry are written after the change. */
  sharesTransactionsWith(): boolean {
    return false;
  }

  describe(rule: Rule<S3Target>): string {
    return `s3://${this.config.bucket}/${rule.target.prefix}`;
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  /** Live checks for `check`: the bucket answers, and is not versioned unless `versions: delete-all` says what to do. */
  async inspect(_rule: Rule<S3Target>, path: string, _context?: StoreContext): Promise<ConfigProblem[]> {
    const problems: ConfigProblem[] = [];
    try {
      await this.ping();
      await this.#versionMode();
    } catch (error) {
      problems.push({ path: `${path}.store`, message: (error as Error).message });
    }
    return problems;
  }

  async count(rule: Rule<S3Target>, selection: Selection, _context?: StoreContext): Promise<number> {
    const selecting = this.#selecting(rule, selection);
    return selecting.none ? 0 : (await this.#survey(rule, selecting, false)).expired;
  }

  async unjudged(rule: Rule<S3Target>): Promise<Unjudged> {
    return (await this.#survey(rule, { scope: this.#scope(rule), ranges: [], held: new Set(), none: false }, false)).unjudged;
  }

  /** Objects the rule covers, expired or not, for the fraction limit. */
  async total(rule: Rule<S3Target>): Promise<number> {
    let total = 0;
    for await (const objects of this.#pages(rule, this.#scope(rule))) total += objects.length;
    return total;
  }

  /**
   * The `{subject}` segments of the keys the rule covers, a page of distinct values per
   * listing page (a value may repeat across pages). A segment that cannot be an id (`.`,
   * `..`) is left out.
   */
  async *scanSubjects(rule: Rule<S3Target>): AsyncIterable<readonly string[]> {
    if (!subjectPrefix(rule.target.prefix)) throw new Error(`rule ${rule.id}: prefix ${JSON.stringify(rule.target.prefix)} has no {subject}; it cannot tell whose objects are`);
    for await (const objects of this.#pages(rule, this.#scope(rule))) {
      const page = new Set<string>();
      for (const { subject } of objects) if (subject !== undefined && !subjectSegmentProblem(subject)) page.add(subject);
      if (page.size > 0) yield [...page];
    }
  }

  /** One open range: a batch walks the whole prefix (a listing resumes by key, so a retried batch just lists again). */
  async partition(): Promise<KeyRange[]> {
    return [{ after: null, upTo: null }];
  }

  /**
   * Row-to-object cascades: deletes exactly the named keys (from database rows, so
   * untrusted). A key that is not plain (empty, absolute, with `.`/`..`/empty segments or
   * NUL: a server that normalizes paths could read it as another key or bucket) is refused
   * and left. A key already gone is `missing`; in a versioned bucket (versions: delete-all)
   * every version and delete marker of the key goes, and a key with none left is `missing`.
   */
  async deleteObjects(names: readonly string[]): Promise<ObjectDeletion[]> {
    const results: ObjectDeletion[] = names.map((name) => {
      const problem = relativePathProblem(name);
      return problem ? { refused: problem } : 'missing';
    });
    const plain = names.map((name, i) => ({ name, i })).filter(({ i }) => results[i] === 'missing');
    if (plain.length === 0) return results;
    const versions = await this.#versionMode();
    const entries: ObjectIdentifier[] = [];
    const wanted = new Map<string, number>();
    if (versions === 'all') {
      for (const { name } of plain) {
        const ids = wanted.has(name) ? [] : await this.#versionsOf(name);
        if (ids.length > 0) wanted.set(name, ids.length);
        entries.push(...ids.map((versionId) => ({ Key: name, VersionId: versionId })));
      }
    } else {
      const heads = await headObjects(this.#client, this.#place, plain.map((p) => p.name));
      plain.forEach(({ name }, n) => {
        if (heads[n] !== null && !wanted.has(name)) {
          wanted.set(name, 1);
          entries.push({ Key: name });
        }
      });
    }
    const answers = new Map<string, DeleteAnswer[]>();
    for (const chunk of chunks(entries, DELETE_BATCH)) {
      for (const [key, list] of await this.#deleteObjects(chunk)) answers.set(key, [...(answers.get(key) ?? []), ...list]);
    }
    for (const { name, i } of plain) {
      if (!wanted.has(name)) continue; // nothing there: missing, counted as deleted
      const got = answers.get(name) ?? [];
      const error = got.find((a) => a.error !== undefined)?.error;
      if (error) results[i] = { failed: `the server refused to delete it (${error})` };
      else if (got.length < wanted.get(name)!) results[i] = { failed: 'the server did not report it deleted' };
      else results[i] = 'deleted';
    }
    return results;
  }

  async apply(batch: BatchSpec<S3Target>): Promise<BatchResult> {
    const { rule, selection, keyRange, dryRun } = batch;
    if (keyRange.after !== null || keyRange.upTo !== null) {
      throw new Error(`s3 store ${this.name} sweeps in one batch, but was given the key range ${JSON.stringify(keyRange)}`);
    }
    const selecting = this.#selecting(rule, selection);
    if (selecting.none) return { rows: 0 };
    const survey = await this.#survey(rule, selecting, !dryRun);
    const held = survey.held > 0 ? { held: survey.held } : {};
    if (dryRun) return { rows: survey.expired, ...held };
    return { rows: survey.deleted, ...(survey.skipped.length > 0 ? { skipped: survey.skipped } : {}), ...held };
  }

  /**
   * The selection for this rule: its ranges, or one subject's objects, minus held
   * subjects'. Throws when the rule cannot tell whose its objects are (no `{subject}`) and
   * the selection needs it, and a UserError naming the rule for an id that cannot be one
   * key segment.
   */
  #selecting(rule: Rule<S3Target>, selection: Selection): Selecting {
    const { ranges, subject, except, none } = selectionParts(selection);
    const placed = subjectPrefix(rule.target.prefix);
    if ((subject !== null || except.length > 0) && !placed) {
      throw new Error(`rule ${rule.id}: prefix ${JSON.stringify(rule.target.prefix)} has no {subject}, so s3 store ${this.name} cannot tell whose objects are`);
    }
    const held = new Set(except);
    if (subject === null || !placed) return { scope: this.#scope(rule), ranges, held, none };
    const id = requireSubjectSegment(rule.id, rule.target.prefix, subject);
    const prefix = `${placed.above}${id}${placed.below}`;
    return { scope: { prefix, subjectOf: () => id }, ranges, held, none };
  }

  /** Where a sweep lists: the prefix, or above the person's segment when it names one. */
  #scope(rule: Rule<S3Target>): Scope {
    const placed = subjectPrefix(rule.target.prefix);
    return placed ? { prefix: placed.above, subjectOf: (key) => subjectOfKey(placed, key) } : { prefix: rule.target.prefix };
  }

  /**
   * `one` for a bucket that was never versioned, `all` for a versioned bucket the config
   * lets us delete every version in; a UserError for a versioned bucket otherwise.
   */
  async #versionMode(): Promise<'one' | 'all'> {
    const answer = await this.#send('GetBucketVersioning', () => this.#client.send(new GetBucketVersioningCommand({ Bucket: this.config.bucket })));
    const status = answer.Status;
    if (status === undefined) return 'one';
    if (this.config.versions === 'delete-all') return 'all';
    throw new UserError(
      `bucket ${JSON.stringify(this.config.bucket)} has versioning ${status}: a delete there only writes a delete marker and keeps every version, ` +
        `the personal data with it. Set stores.${this.name}.versions: delete-all to delete every version of an expired key (${this.#place.origin})`,
    );
  }

  /** Walks the rule's objects once: judges each page, and (with `remove`) deletes its expired objects. */
  async #survey(rule: Rule<S3Target>, selecting: Selecting, remove: boolean): Promise<Survey> {
    const versions = await this.#versionMode();
    const { ranges, held } = selecting;
    const survey: Survey = { expired: 0, deleted: 0, held: 0, unjudged: {}, skipped: [] };
    const unjudged = (reason: string) => (survey.unjudged[reason] = (survey.unjudged[reason] ?? 0) + 1);
    for await (const objects of this.#pages(rule, selecting.scope)) {
      const selected = await this.#judge(rule, ranges, objects, unjudged);
      // A held person's object is kept here, where its deletion is decided, counted or not.
      const candidates: JudgedObject[] = [];
      for (const object of selected) {
        if (held.size > 0 && held.has(object.subject!)) survey.held++;
        else candidates.push(object);
      }
      survey.expired += candidates.length;
      if (!remove || candidates.length === 0) continue;
      // A sweep deletes an object only while it is what was judged; a subject's object is
      // the person's by its key alone.
      const sweep = ranges !== null;
      const unchanged = sweep ? await recheckObjects(this.#client, this.#place, rule.target.anchor, candidates) : candidates;
      const outcome = versions === 'all' ? await this.#deleteEveryVersion(unchanged) : await this.#deleteCurrent(unchanged, sweep);
      survey.deleted += outcome.deleted;
      survey.skipped.push(...outcome.skipped);
    }
    return survey;
  }

  /**
   * ListObjectsV2 under the scope's prefix, page by page; keys outside the prefix, or that
   * the scope does not cover, are never yielded.
   */
  async *#pages(rule: Rule<S3Target>, scope: Scope): AsyncGenerator<ListedObject[]> {
    if (rule.target.prefix === '' && !rule.target.wholeBucket) throw new Error(`rule ${rule.id} has an empty prefix without wholeBucket: true`);
    const { prefix, subjectOf } = scope;
    let token: string | undefined;
    do {
      const page = await this.#send('ListObjectsV2', () =>
        this.#client.send(new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, MaxKeys: LIST_PAGE, ContinuationToken: token })),
      );
      const objects: ListedObject[] = [];
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(prefix)) continue;
        const listed: ListedObject = { key: object.Key, etag: object.ETag, second: object.LastModified ? floorSecond(object.LastModified) : null };
        if (subjectOf) {
          const subject = subjectOf(object.Key);
          if (subject === null) continue;
          listed.subject = subject;
        }
        objects.push(listed);
      }
      yield objects;
      if (page.IsTruncated && !page.NextContinuationToken) {
        throw new Error(`ListObjectsV2 on ${this.#show()} said the listing goes on but gave no continuation token`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * The objects of a page whose anchor lies in the ranges (with no ranges, a subject's or,
   * for a sunset's `all`, the rule's: all of them, whatever their anchor); the others
   * counted as kept or unjudged. A key that is not plain is never judged, even then.
   */
  async #judge(rule: Rule<S3Target>, ranges: readonly AnchorRange[] | null, listed: ListedObject[], unjudged: (reason: string) => void): Promise<JudgedObject[]> {
    // A key with `..`, `.` or empty segments could name another object on a server that
    // normalizes paths (its HEAD and delete would reach that one): never judged, reported.
    const objects = listed.filter((object) => {
      if (!relativePathProblem(object.key)) return true;
      unjudged(NOT_PLAIN);
      return false;
    });
    if (ranges === null) return objects;
    const anchor = rule.target.anchor;
    if (anchor === 'last-modified') {
      return objects.filter((object) => {
        if (object.second === null) return void unjudged(MISSING), false;
        if (!plausible(object.second)) return void unjudged(IMPLAUSIBLE), false;
        return wholeSecondExpired(ranges, object.second);
      });
    }
    const unit = rule.target.anchorUnit;
    if (!unit) throw new Error(`s3 rule ${rule.id} has a metadata anchor without anchorUnit`);
    const heads = await headObjects(
      this.#client,
      this.#place,
      objects.map((object) => object.key),
    );
    const candidates: JudgedObject[] = [];
    heads.forEach((head, i) => {
      if (head === null) return; // deleted since the listing: neither swept nor unjudged
      const text = head.metadata[anchor.metadata];
      if (text === undefined) return unjudged(MISSING);
      const parsed = parseAnchor(text, unit);
      if (parsed.kind === 'malformed') return unjudged(MALFORMED);
      if (parsed.kind === 'implausible') return unjudged(IMPLAUSIBLE);
      if (inRanges(ranges, parsed.ms)) candidates.push({ ...objects[i]!, etag: head.etag, second: head.second, anchor: text });
    });
    return candidates;
  }

  /** DeleteObjects for the current version of each key, its ETag as the condition when `conditional`. */
  async #deleteCurrent(candidates: JudgedObject[], conditional: boolean): Promise<{ deleted: number; skipped: Survey['skipped'] }> {
    let deleted = 0;
    const skipped: Survey['skipped'] = [];
    for (const chunk of chunks(candidates, DELETE_BATCH)) {
      const entries: ObjectIdentifier[] = chunk.map((c) => (conditional && c.etag ? { Key: c.key, ETag: c.etag } : { Key: c.key }));
      const outcome = await this.#deleteObjects(entries);
      for (const candidate of chunk) {
        const result = outcome.get(candidate.key) ?? [];
        const refused = result.find((r) => r.error !== undefined);
        if (refused?.error === PRECONDITION_FAILED) continue; // changed since the HEAD: kept, judged again next sweep
        if (refused) skipped.push({ key: candidate.key, reason: `the server refused to delete it (${refused.error})` });
        else if (result.length === 0) skipped.push({ key: candidate.key, reason: 'the server reported neither its deletion nor an error' });
        else deleted++;
      }
    }
    return { deleted, skipped };
  }

  /**
   * Every version and delete marker of each key (ListObjectVersions, exact key only), deleted
   * by VersionId. A key counts as deleted only when all of them went. A version written after
   * the listing is not in the request and stays.
   */
  async #deleteEveryVersion(candidates: JudgedObject[]): Promise<{ deleted: number; skipped: Survey['skipped'] }> {
    const entries: ObjectIdentifier[] = [];
    const perKey = new Map<string, number>();
    for (const candidate of candidates) {
      const versions = await this.#versionsOf(candidate.key);
      perKey.set(candidate.key, versions.length);
      entries.push(...versions.map((versionId) => ({ Key: candidate.key, VersionId: versionId })));
    }
    const results = new Map<string, DeleteAnswer[]>();
    for (const chunk of chunks(entries, DELETE_BATCH)) {
      for (const [key, answers] of await this.#deleteObjects(chunk)) results.set(key, [...(results.get(key) ?? []), ...answers]);
    }
    let deleted = 0;
    const skipped: Survey['skipped'] = [];
    for (const candidate of candidates) {
      if (perKey.get(candidate.key) === 0) continue; // gone since the HEAD: nothing left to delete
      const answers = results.get(candidate.key) ?? [];
      const refused = answers.find((a) => a.error !== undefined);
      if (refused) skipped.push({ key: candidate.key, reason: `the server refused to delete a version of it (${refused.error})` });
      else if (answers.length < (perKey.get(candidate.key) ?? 0)) {
        skipped.push({ key: candidate.key, reason: 'the server did not report every version deleted' });
      } else deleted++;
    }
    return { deleted, skipped };
  }

  async #versionsOf(key: string): Promise<string[]> {
    const ids: string[] = [];
    let keyMarker: string | undefined;
    let versionMarker: string | undefined;
    for (;;) {
      const page = await this.#send('ListObjectVersions', () =>
        this.#client.send(new ListObjectVersionsCommand({ Bucket: this.config.bucket, Prefix: key, KeyMarker: keyMarker, VersionIdMarker: versionMarker })),
      );
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key === key && v.VersionId !== undefined) ids.push(v.VersionId);
      }
      if (!page.IsTruncated) return ids;
      keyMarker = page.NextKeyMarker;
      versionMarker = page.NextVersionIdMarker;
      // Versions are listed in key order: once past our key, the rest belongs to longer keys.
      if (keyMarker !== undefined && keyMarker > key) return ids;
    }
  }

  /** One DeleteObjects request; per key, what the server answered for each entry. */
  async #deleteObjects(entries: ObjectIdentifier[]): Promise<Map<string, DeleteAnswer[]>> {
    const answer = await this.#send('DeleteObjects', () =>
      this.#client.send(new DeleteObjectsCommand({ Bucket: this.config.bucket, Delete: { Objects: entries, Quiet: false } })),
    );
    const asked = new Set(entries.map((e) => e.Key));
    const byKey = new Map<string, DeleteAnswer[]>();
    const add = (key: string | undefined, result: DeleteAnswer) => {
      if (key === undefined || !asked.has(key)) return;
      byKey.set(key, [...(byKey.get(key) ?? []), result]);
    };
    for (const done of answer.Deleted ?? []) add(done.Key, {});
    for (const error of answer.Errors ?? []) add(error.Key, { error: error.Code ?? 'unknown error' });
    return byKey;
  }

  async #send<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateError(error, what, this.#place);
    }
  }

  #show(): string {
    return `s3://${this.config.bucket} (${this.#place.origin})`;
  }
}

/** DeleteObjects' answer for one entry: deleted, or the error code. */
interface DeleteAnswer {
  error?: string;
}

const PRECONDITION_FAILED = 'PreconditionFailed';

/**
 * True when every instant of the second starting at `second` lies in one range: S3 keeps
 * LastModified to the second, so an object may have been written anywhere in it.
 */
function wholeSecondExpired(ranges: readonly AnchorRange[], second: number): boolean {
  const last = lastMsOfSecond(second);
  return ranges.some((range) => (range.from === null || range.from <= second) && last <= range.to);
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
