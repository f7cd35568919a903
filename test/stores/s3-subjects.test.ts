import { PutObjectCommand } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { SUBJECT_PLACEHOLDER, type Rule } from '../../src/policy/rule.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import type { S3Store } from '../../src/stores/s3/s3-store.js';
import { s3TargetSchema, type S3Target } from '../../src/stores/s3/s3-target.js';
import { subjectOfKey, subjectPrefix } from '../../src/stores/s3/subject-prefix.js';
import { exceptHeld, expired, ofSubject, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { configProblems, oneRuleConfig } from '../helpers/config-problems.js';
import { s3Rule, useS3Bucket } from './s3-fixture.js';

/**
 * `{subject}` in an S3 rule's prefix: erasure of one person's objects (exactly theirs,
 * whatever their age), held people kept in sweeps, and the people present listed.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const DAY = 86_400_000;
const EVERYTHING = (): Selection => expired([{ from: null, to: Date.now() + DAY }]);
const NOTHING = (): Selection => expired([{ from: null, to: Date.UTC(2000, 0, 1) }]);

const box = useS3Bucket('people');
const store = box.store;
/** Rule `photos`, whose prefix names the person. */
const rule = (target: Partial<S3Target> = {}) => s3Rule({ prefix: 'photos/{subject}/', ...target }, { id: 'photos', subject: SUBJECT_PLACEHOLDER });

const put = (key: string, metadata?: Record<string, string>) => box.admin.send(new PutObjectCommand({ Bucket: box.bucket, Key: key, Body: key, Metadata: metadata }));
const keys = () => box.keys();

const apply = (s3: S3Store, r: Rule<S3Target>, selection: Selection, dryRun = false): Promise<BatchResult> =>
  s3.apply({ rule: r, selection, keyRange: { after: null, upTo: null }, dryRun, context: CONTEXT });

async function collect(pages: AsyncIterable<readonly string[]>): Promise<string[]> {
  const all = new Set<string>();
  for await (const page of pages) for (const value of page) all.add(value);
  return [...all].sort();
}

/** Ids whose characters mean something in a glob or a URL, and ids that are the start of another. */
const TRICKY = ['u1', 'u10', 'u*', 'u?', '[u]1', '{u1,u10}', '\\u1', '!u1', 'u%31', 'u+1', 'u 1', 'ü1'];

describe('an s3 rule with {subject}: one person', () => {
  it('deletes exactly the objects of one id, whatever their age: metacharacters are literal and u1 never reaches u10', async () => {
    for (const id of TRICKY) {
      await put(`photos/${id}/a.jpg`);
      await put(`photos/${id}/deep/b.jpg`);
    }
    await put('photos/u1x/a.jpg');
    await put('photos/u1');
    await put('other/u1/a.jpg');
    const s3 = store();
    // The objects were written just now: age does not matter to an erasure.
    for (const id of TRICKY) expect(await s3.count(rule(), ofSubject(id), CONTEXT), id).toBe(2);
    expect(await s3.count(rule(), NOTHING(), CONTEXT)).toBe(0);

    for (const id of TRICKY) {
      const before = await keys();
      expect(await apply(s3, rule(), ofSubject(id), true), id).toEqual({ rows: 2 });
      expect(await apply(s3, rule(), ofSubject(id)), id).toEqual({ rows: 2 });
      expect(await keys(), id).toEqual(before.filter((key) => !key.startsWith(`photos/${id}/`)));
    }
    expect(await keys()).toEqual(['other/u1/a.jpg', 'photos/u1', 'photos/u1x/a.jpg']);
  });

  it('puts the id in the middle of a prefix and selects only under the rest of it', async () => {
    for (const key of ['tenants/u1/docs/a.pdf', 'tenants/u1/docs-old/b.pdf', 'tenants/u1/other/c.pdf', 'tenants/u10/docs/d.pdf']) await put(key);
    const docs = rule({ prefix: 'tenants/{subject}/docs/' });
    expect(await apply(store(), docs, ofSubject('u1'))).toEqual({ rows: 1 });
    expect(await keys()).toEqual(['tenants/u1/docs-old/b.pdf', 'tenants/u1/other/c.pdf', 'tenants/u10/docs/d.pdf']);
  });

  it('deletes objects whose metadata anchor is missing or malformed: an erasure does not judge age', async () => {
    await put('photos/u1/a.jpg', { 'uploaded-at': 'yesterday-ish' });
    await put('photos/u1/b.jpg');
    await put('photos/u2/c.jpg');
    const byMetadata = rule({ anchor: { metadata: 'uploaded-at' }, anchorUnit: 'iso' });
    expect(await apply(store(), byMetadata, ofSubject('u1'))).toEqual({ rows: 2 });
    expect(await keys()).toEqual(['photos/u2/c.jpg']);
  });

  it('refuses an id that is empty, . or .., or holds / or NUL, naming the rule, and deletes nothing', async () => {
    for (const key of ['photos/a/b/c.jpg', 'photos/u1/a.jpg', 'photos/x.jpg', 'other/a.jpg']) await put(key);
    const before = await keys();
    const s3 = store();
    for (const id of ['', '.', '..', 'a/b', '../other', 'u1\0', '\uD800']) {
      await expect(s3.count(rule(), ofSubject(id), CONTEXT), JSON.stringify(id)).rejects.toThrow(UserError);
      await expect(apply(s3, rule(), ofSubject(id)), JSON.stringify(id)).rejects.toThrow(/^rule photos: the subject id .* cannot stand for \{subject\} in "photos\/\{subject\}\/"$/);
    }
    expect(await keys()).toEqual(before);
  });

  it('selects nothing for a person who is on hold: the request waits', async () => {
    await put('photos/u1/a.jpg');
    const held = exceptHeld(ofSubject('u1'), ['u1']);
    expect(await store().count(rule(), held, CONTEXT)).toBe(0);
    expect(await apply(store(), rule(), held)).toEqual({ rows: 0 });
    expect(await keys()).toEqual(['photos/u1/a.jpg']);
  });

  it('refuses a subject or held subjects on a rule whose prefix does not name the person', async () => {
    await put('photos/u1/a.jpg');
    const plain = { ...rule({ prefix: 'photos/' }), subject: null };
    await expect(store().count(plain, ofSubject('u1'), CONTEXT)).rejects.toThrow(/has no \{subject\}/);
    await expect(apply(store(), plain, exceptHeld(EVERYTHING(), ['u1']))).rejects.toThrow(/has no \{subject\}/);
    expect(await keys()).toEqual(['photos/u1/a.jpg']);
  });
});

describe('an s3 rule with {subject}: sweeps keep held people', () => {
  it("keeps a held person's expired objects, counts them as held, and matches the held id exactly", async () => {
    for (const id of ['u1', 'u10', 'u*', 'v']) {
      await put(`photos/${id}/a.jpg`);
      await put(`photos/${id}/b.jpg`);
    }
    const selection = exceptHeld(EVERYTHING(), ['u1', 'u*', 'u']);
    const s3 = store();
    expect(await s3.count(rule(), selection, CONTEXT)).toBe(4);
    expect(await apply(s3, rule(), selection, true)).toEqual({ rows: 4, held: 4 });
    expect(await apply(s3, rule(), selection)).toEqual({ rows: 4, held: 4 });
    expect(await keys()).toEqual(['photos/u*/a.jpg', 'photos/u*/b.jpg', 'photos/u1/a.jpg', 'photos/u1/b.jpg']);
  });

  it('covers only keys with one non-empty segment in the place of {subject}', async () => {
    for (const key of ['photos/u1/a.jpg', 'photos/loose.jpg', 'photo/u1/a.jpg']) await put(key);
    const s3 = store();
    expect(await s3.total(rule())).toBe(1);
    expect(await apply(s3, rule(), EVERYTHING())).toEqual({ rows: 1 });
    expect(await keys()).toEqual(['photo/u1/a.jpg', 'photos/loose.jpg']);
    // An empty segment (which the test server cannot store) is nobody's.
    const placed = subjectPrefix('photos/{subject}/docs/')!;
    expect(['photos//docs/a', 'photos/u1/docs/a', 'photos/u1/docsx', 'photos/u1', 'photos/u1/x/docs/a'].map((key) => subjectOfKey(placed, key))).toEqual([null, 'u1', null, null, null]);
  });
});

describe('an s3 rule with {subject}: scanning for people', () => {
  it('lists the raw {subject} segments present, and nothing outside the prefix', async () => {
    for (const key of ['photos/u1/a.jpg', 'photos/u1/b.jpg', 'photos/u10/a.jpg', 'photos/u*/a.jpg', 'photos/%20/a.jpg', 'photos/loose.jpg', 'other/u2/a.jpg']) await put(key);
    expect(await collect(store().scanSubjects(rule()))).toEqual(['%20', 'u*', 'u1', 'u10']);
    await put('t/p1/docs/a.pdf');
    await put('t/p2/other/a.pdf');
    expect(await collect(store().scanSubjects(rule({ prefix: 't/{subject}/docs/' })))).toEqual(['p1']);
  });

  it('refuses to scan a rule whose prefix does not name the person', async () => {
    await expect(collect(store().scanSubjects(rule({ prefix: 'photos/' })))).rejects.toThrow(/has no \{subject\}/);
  });
});

describe('{subject} in an s3 prefix, at load', () => {
  const target = (prefix: string): string[] => {
    const result = s3TargetSchema.safeParse({ prefix, anchor: 'last-modified' });
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it('accepts it once, as a whole segment', () => {
    for (const prefix of ['photos/{subject}/', '{subject}/', 'a/{subject}/b/']) expect(target(prefix), prefix).toEqual([]);
  });

  it('refuses it twice or in part of a segment, under prefix', () => {
    expect(target('photos/{subject}/{subject}/')).toEqual([expect.stringMatching(/^prefix: .*has \{subject\} 2 times/)]);
    expect(target('photos/u-{subject}/')).toEqual([expect.stringMatching(/^prefix: .*\{subject\} stands for a whole path segment, between slashes, as in "photos\/\{subject\}\/"/)]);
    expect(target('photos/{subject}x/')).toEqual([expect.stringMatching(/^prefix: .*whole path segment/)]);
    expect(target('photos/{subject}')).toEqual([expect.stringMatching(/^prefix: .*end the prefix with \//)]);
  });

  const yaml = (rule: string) => oneRuleConfig('docs', '{ kind: s3, bucket: wentong-documents, region: eu-central-1 }', rule);
  const problems = configProblems;

  it('makes {subject} in the prefix the rule subject, and refuses a written subject:', () => {
    const config = parseConfig(yaml('{ id: photos, store: docs, prefix: "photos/{subject}/", anchor: last-modified, retain: P1Y, action: delete }'), 'test.yaml', {}, STORE_KINDS);
    expect(config.rules[0]).toMatchObject({ subject: SUBJECT_PLACEHOLDER, target: { prefix: 'photos/{subject}/' } });
    expect(problems(yaml('{ id: photos, store: docs, prefix: "photos/", subject: owner_id, anchor: last-modified, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].subject', message: expect.stringContaining('an s3 rule names the person with {subject} as one segment of its prefix') },
    ]);
    expect(problems(yaml('{ id: photos, store: docs, prefix: "photos/x{subject}/", anchor: last-modified, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].prefix', message: expect.stringContaining('{subject} stands for a whole path segment') },
    ]);
  });
});
