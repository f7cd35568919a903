import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { SUBJECT_PLACEHOLDER, type Rule } from '../../src/policy/rule.js';
import { filesKind } from '../../src/stores/files/kind.js';
import type { FilesTarget } from '../../src/stores/files/files-target.js';
import type { FilesStore } from '../../src/stores/files/files-store.js';
import { globProblem } from '../../src/stores/files/path-glob.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { exceptHeld, expired, ofSubject, type Selection } from '../../src/stores/selection.js';
import type { BatchResult } from '../../src/stores/store.js';
import { configProblems, oneRuleConfig } from '../helpers/config-problems.js';
import { CONTEXT, DAY, filesRule, sandbox, type Sandbox } from './files-fixture.js';

let box: Sandbox;

beforeEach(async () => {
  box = await sandbox();
});

afterEach(async () => {
  await box.remove();
});

const PEOPLE = filesRule({ path: 'photos/{subject}/**' }, { subject: SUBJECT_PLACEHOLDER });
const EVERYTHING = (): Selection => expired([{ from: null, to: Date.now() + DAY }]);

/** Every batch of `partition` for `selection`, results added up. */
async function run(store: FilesStore, rule: Rule<FilesTarget>, selection: Selection, dryRun = false): Promise<Required<Pick<BatchResult, 'rows' | 'held'>>> {
  const total = { rows: 0, held: 0 };
  for (const keyRange of await store.partition(rule, selection)) {
    const result = await store.apply({ rule, selection, keyRange, dryRun, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
  }
  return total;
}

/** Relative paths of the files left under `dir`, sorted. */
async function left(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

async function collect(pages: AsyncIterable<readonly string[]>): Promise<string[]> {
  const all: string[] = [];
  for await (const page of pages) all.push(...page);
  return all;
}

/** Ids whose characters mean something in a glob, and ids that are the start of another. */
const TRICKY = ['u1', 'u10', 'u*', 'u?', '[u]1', '[!x]1', '{u1,u10}', '\\u1', 'u1\\', '!u1', 'u 1', 'ü1'];

describe('a files rule with {subject}: one person', () => {
  it('selects exactly the files of one id: metacharacters are literal and u1 never reaches u10', async () => {
    for (const id of TRICKY) await box.file(`photos/${id}/a.jpg`);
    await box.file('photos/u1x/a.jpg');
    await box.file('photos/xu1/a.jpg');
    const store = box.store();
    for (const id of TRICKY) expect(await store.count(PEOPLE, ofSubject(id), CONTEXT), id).toBe(1);

    for (const id of TRICKY) {
      const before = await left(box.root);
      expect(await run(store, PEOPLE, ofSubject(id)), id).toEqual({ rows: 1, held: 0 });
      // Exactly that person's file went, nothing else.
      expect(await left(box.root), id).toEqual(before.filter((path) => path !== join('photos', id, 'a.jpg')));
    }
    expect(await left(box.root)).toEqual(['photos/u1x/a.jpg', 'photos/xu1/a.jpg']);
  });

  it("deletes all of a person's files whatever their age, and their emptied directories, keeping the rule's base", async () => {
    const old = await box.file('photos/u1/2001/old.jpg', Date.UTC(2001, 0, 1));
    const fresh = await box.file('photos/u1/new.jpg', Date.now());
    const future = await box.file('photos/u1/later.jpg', Date.now() + 365 * DAY);
    await box.file('photos/u2/new.jpg', Date.now());
    // A path anchor that cannot be read is no reason to keep a person's file either.
    const dated = { ...PEOPLE, target: { ...PEOPLE.target, anchor: { kind: 'path' as const, pattern: '(\\d{4}-\\d{2}-\\d{2})' }, anchorZone: { name: 'UTC', from: 'rule' as const } } };

    expect(await box.store().count(dated, ofSubject('u1'), CONTEXT)).toBe(3);
    expect(await run(box.store(), dated, ofSubject('u1'), true)).toEqual({ rows: 3, held: 0 });
    expect(existsSync(old)).toBe(true);
    expect(await run(box.store(), dated, ofSubject('u1'))).toEqual({ rows: 3, held: 0 });
    for (const path of [old, fresh, future]) expect(existsSync(path)).toBe(false);
    // The directory named after the person is personal data too: it goes with its last file.
    expect(existsSync(join(box.root, 'photos', 'u1'))).toBe(false);
    expect(existsSync(join(box.root, 'photos'))).toBe(true);
    expect(await left(box.root)).toEqual(['photos/u2/new.jpg']);
  });

  it('reads {subject} as the file name itself when it is the last segment', async () => {
    await box.file('exports/u1');
    await box.file('exports/u10');
    await box.file('exports/u1.json');
    const rule = filesRule({ path: 'exports/{subject}' }, { subject: SUBJECT_PLACEHOLDER });
    expect(await run(box.store(), rule, ofSubject('u1'))).toEqual({ rows: 1, held: 0 });
    expect(await left(box.root)).toEqual(['exports/u1.json', 'exports/u10']);
  });

  it('refuses an id that is empty, . or .., or holds / or NUL, naming the rule, and deletes nothing', async () => {
    await box.file('photos/a/b/c.jpg');
    await box.file('photos/x.jpg');
    await box.file('photos/u1/a.jpg');
    await box.file('inside.jpg', Date.now(), box.outside);
    const everything = [...(await left(box.root)), ...(await left(box.outside))];
    const store = box.store();
    for (const id of ['', '.', '..', 'a/b', '../outside', 'u1\0', '\uD800']) {
      await expect(store.count(PEOPLE, ofSubject(id), CONTEXT), JSON.stringify(id)).rejects.toThrow(UserError);
      await expect(store.partition(PEOPLE, ofSubject(id)), JSON.stringify(id)).rejects.toThrow(/^rule uploads: the subject id /);
      await expect(store.apply({ rule: PEOPLE, selection: ofSubject(id), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT })).rejects.toThrow(
        /^rule uploads: the subject id .* cannot stand for \{subject\} in "photos\/\{subject\}\/\*\*"$/,
      );
    }
    expect([...(await left(box.root)), ...(await left(box.outside))]).toEqual(everything);
  });

  it("never follows a person's directory that is a symbolic link out of the root", async () => {
    const outsideFile = await box.file('u1/a.jpg', Date.now(), box.outside);
    await mkdir(join(box.root, 'photos'));
    await symlink(join(box.outside, 'u1'), join(box.root, 'photos', 'u1'));
    expect(await run(box.store(), PEOPLE, ofSubject('u1'))).toEqual({ rows: 0, held: 0 });
    expect(existsSync(outsideFile)).toBe(true);
  });

  it('selects nothing for a person who is on hold: the request waits', async () => {
    const file = await box.file('photos/u1/a.jpg');
    const held = exceptHeld(ofSubject('u1'), ['u1']);
    expect(await box.store().count(PEOPLE, held, CONTEXT)).toBe(0);
    expect(await run(box.store(), PEOPLE, held)).toEqual({ rows: 0, held: 0 });
    expect(existsSync(file)).toBe(true);
  });

  it('refuses a subject or held subjects on a rule whose path does not name the person', async () => {
    await box.file('photos/u1/a.jpg', Date.UTC(2001, 0, 1));
    const plain = filesRule({ path: 'photos/**' });
    await expect(box.store().count(plain, ofSubject('u1'), CONTEXT)).rejects.toThrow(/has no \{subject\}/);
    await expect(run(box.store(), plain, exceptHeld(EVERYTHING(), ['u1']))).rejects.toThrow(/has no \{subject\}/);
    expect(await left(box.root)).toEqual(['photos/u1/a.jpg']);
  });
});

describe('a files rule with {subject}: sweeps keep held people', () => {
  it("keeps a held person's expired files, counts them as held, and matches the held id exactly", async () => {
    const old = Date.UTC(2001, 0, 1);
    for (const id of ['u1', 'u10', 'u*', 'v']) {
      await box.file(`photos/${id}/a.jpg`, old);
      await box.file(`photos/${id}/b.jpg`, old);
    }
    // `u*` held holds only the person `u*`, never u1 or u10; `u` holds nobody.
    const selection = exceptHeld(EVERYTHING(), ['u1', 'u*', 'u']);
    expect(await box.store().count(PEOPLE, selection, CONTEXT)).toBe(4);
    expect(await run(box.store(), PEOPLE, selection, true)).toEqual({ rows: 4, held: 4 });
    expect(await run(box.store(), PEOPLE, selection)).toEqual({ rows: 4, held: 4 });
    expect(await left(box.root)).toEqual(['photos/u*/a.jpg', 'photos/u*/b.jpg', 'photos/u1/a.jpg', 'photos/u1/b.jpg']);
  });

  it('reports no held files when nobody held has expired files', async () => {
    await box.file('photos/u1/a.jpg', Date.UTC(2001, 0, 1));
    await box.file('photos/u2/a.jpg', Date.now() + 365 * DAY);
    const result = await box.store().apply({ rule: PEOPLE, selection: exceptHeld(EVERYTHING(), ['u2']), keyRange: { after: null, upTo: null }, dryRun: false, context: CONTEXT });
    expect(result).toEqual({ rows: 1 });
  });

  it('sweeps by age as before: {subject} covers what * covers, a dot-name not', async () => {
    await box.file('photos/u1/a.jpg', Date.UTC(2001, 0, 1));
    await box.file('photos/u2/a.jpg', Date.now() + 365 * DAY);
    await box.file('photos/.cache/a.jpg', Date.UTC(2001, 0, 1));
    // `**` may match no directory, as in any glob: a loose file is the person it is named.
    await box.file('photos/loose.jpg', Date.UTC(2001, 0, 1));
    expect(await box.store().total(PEOPLE)).toBe(3);
    expect(await run(box.store(), PEOPLE, exceptHeld(EVERYTHING(), ['loose.jpg']))).toEqual({ rows: 1, held: 1 });
    expect(await left(box.root)).toEqual(['photos/.cache/a.jpg', 'photos/loose.jpg', 'photos/u2/a.jpg']);
  });
});

describe('a files rule with {subject}: scanning for people', () => {
  it('lists the raw {subject} segments present, each once, and nothing outside the glob', async () => {
    for (const id of ['u1', 'u10', 'u*', '[x]']) {
      await box.file(`photos/${id}/a.jpg`);
      await box.file(`photos/${id}/deep/b.jpg`);
    }
    await box.file('photos/.hidden/a.jpg');
    await box.file('other/u2/a.jpg');
    const store = box.store();
    expect((await collect(store.scanSubjects(PEOPLE))).sort()).toEqual(['[x]', 'u*', 'u1', 'u10']);
    const jpegs = filesRule({ path: '{a,b}/{subject}/*.jpg' }, { subject: SUBJECT_PLACEHOLDER });
    await box.file('a/p1/x.jpg');
    await box.file('b/p2/x.jpg');
    await box.file('b/p3/x.png');
    expect((await collect(store.scanSubjects(jpegs))).sort()).toEqual(['p1', 'p2']);
  });

  it('refuses to scan a rule whose path does not name the person', async () => {
    await expect(collect(box.store().scanSubjects(filesRule({ path: 'photos/**' })))).rejects.toThrow(/has no \{subject\}/);
  });
});

describe('{subject} in a files glob, at load', () => {
  it('accepts it once, as a whole segment, at one depth, below no **', () => {
    for (const path of ['photos/{subject}/**', '{subject}/*.jpg', 'exports/{subject}', '{a,b}/{subject}/{x,y}/**', 'photos/{subject}/{jpg,png}/*']) {
      expect(globProblem(path), path).toBeUndefined();
    }
  });

  it('refuses it twice, in part of a segment, below **, or missing from an alternative', () => {
    expect(globProblem('photos/{subject}/{subject}/**')).toMatch(/has \{subject\} 2 times/);
    expect(globProblem('photos/x{subject}/**')).toMatch(/\{subject\} stands for a whole path segment, between slashes/);
    expect(globProblem('photos/{subject}.jpg')).toMatch(/whole path segment/);
    expect(globProblem('photos/{{subject},x}/*')).toMatch(/whole path segment/);
    expect(globProblem('**/{subject}/*')).toMatch(/\*\* above \{subject\} leaves unclear which directory is the person's/);
    expect(globProblem('{a,b/c}/{subject}/*')).toMatch(/same depth in every \{a,b\} alternative/);
    expect(globProblem('{a,b/{subject}}/*')).toMatch(/whole path segment/);
    expect(globProblem('{a,b/{subject}/c}/*')).toMatch(/every \{a,b\} alternative must hold \{subject\}/);
  });

  const yaml = (rule: string) => oneRuleConfig('uploads', '{ kind: files, root: /srv/uploads }', rule);
  const problems = configProblems;

  it('makes {subject} in the path the rule subject', () => {
    const config = parseConfig(yaml('{ id: photos, store: uploads, path: "photos/{subject}/**", anchor: mtime, retain: P1Y, action: delete }'), 'test.yaml', {}, STORE_KINDS);
    expect(config.rules[0]).toMatchObject({ subject: SUBJECT_PLACEHOLDER, target: { path: 'photos/{subject}/**' } });
    expect(filesKind.capabilities.subjects).toBe(true);
  });

  it('reports a misplaced {subject} under the rule path, and a written subject: on a files rule', () => {
    expect(problems(yaml('{ id: photos, store: uploads, path: "photos/u-{subject}/**", anchor: mtime, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].path', message: expect.stringContaining('{subject} stands for a whole path segment') },
    ]);
    expect(problems(yaml('{ id: photos, store: uploads, path: "photos/{subject}/{subject}", anchor: mtime, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].path', message: expect.stringContaining('has {subject} 2 times') },
    ]);
    expect(problems(yaml('{ id: photos, store: uploads, path: "photos/**", subject: owner_id, anchor: mtime, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].subject', message: expect.stringContaining('a files rule names the person with {subject} as one segment of its path') },
    ]);
    expect(problems(yaml('{ id: photos, store: uploads, path: "photos/{subject}/**", subject: owner_id, anchor: mtime, retain: P1Y, action: delete }'))).toEqual([
      { path: 'rules[0].subject', message: expect.stringContaining('already names the person; remove subject') },
    ]);
  });
});
