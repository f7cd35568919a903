import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, rename, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { deleteConfined, removeUnder } from '../../src/stores/files/delete-confined.js';
import { filesTargetSchema } from '../../src/stores/files/files-target.js';
import { filesConfigSchema } from '../../src/stores/files/files-config.js';
import { FilesStore } from '../../src/stores/files/files-store.js';
import { CONTEXT, DAY, filesRule, olderThan, sandbox, sweep, type Sandbox } from './files-fixture.js';

let box: Sandbox;

beforeEach(async () => {
  box = await sandbox();
});

afterEach(async () => {
  await box.remove();
});

const LONG_AGO = Date.now() - 1000 * DAY;
const everything = [{ from: null, to: Date.now() + DAY }];

/** Files outside the root, old enough to be deleted by any rule that could reach them. */
async function bait(): Promise<string[]> {
  return [await box.file('secret.jpg', LONG_AGO, box.outside), await box.file('deep/er.jpg', LONG_AGO, box.outside)];
}

describe('a files rule reaching outside its root', () => {
  it.each([
    ['../outside/*.jpg', 'contains ".."'],
    ['photos/../../outside/**/*.jpg', 'contains ".."'],
    ['{..,photos}/**/*.jpg', 'contains ".."'],
    ['/tmp/**/*.jpg', 'is absolute'],
    ['{/tmp,x}/*.jpg', 'absolute'],
    ['photos\\..\\..\\x.jpg', 'backslash'],
    ['./photos/*.jpg', '"." segment'],
    ['photos//*.jpg', 'empty segment'],
  ])('is refused at load: %s', async (path, message) => {
    const parsed = filesTargetSchema.safeParse({ path, anchor: 'mtime' });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toContain(message);
    expect(parsed.error?.issues[0]?.path).toEqual(['path']);
  });

  it.each(['../outside/*.jpg', '../outside/**/*.jpg', '/'.concat('tmp/*.jpg'), '{..,x}/*.jpg'])(
    'is refused by the store too, touching nothing: %s',
    async (path) => {
      const outside = await bait();
      const rule = filesRule({ path: path.replace('/tmp', box.outside) });
      await expect(box.store().count(rule, olderThan(Date.now()), CONTEXT)).rejects.toBeInstanceOf(UserError);
      await expect(sweep(box.store(), rule, everything)).rejects.toBeInstanceOf(UserError);
      expect((await box.store().inspect(rule, 'rules[0]', CONTEXT)).map((p) => p.path)).toEqual(['rules[0].path']);
      for (const file of outside) expect(existsSync(file), file).toBe(true);
    },
  );

  it('refuses a root that is relative, not plain, or /', () => {
    for (const root of ['srv/uploads', '/srv/../etc', '/srv/uploads/', '/srv//uploads', '/']) {
      expect(filesConfigSchema.safeParse({ root }).success, root).toBe(false);
    }
    expect(filesConfigSchema.safeParse({ root: '/srv/uploads' }).success).toBe(true);
  });
});

describe('symbolic links', () => {
  it('never follows a link to a file outside the root, and counts it as unjudged', async () => {
    const [secret] = await bait();
    await mkdir(join(box.root, 'photos'));
    await symlink(secret!, join(box.root, 'photos/link.jpg'));
    const own = await box.file('photos/own.jpg', LONG_AGO);
    const rule = filesRule({ path: 'photos/*.jpg' });

    expect(await box.store().count(rule, olderThan(Date.now()), CONTEXT)).toBe(1);
    expect(await box.store().unjudged(rule)).toEqual({ symlink: 1 });
    expect(await box.store().total(rule)).toBe(1);
    expect(await sweep(box.store(), rule, everything)).toBe(1);
    expect(existsSync(own)).toBe(false);
    expect(existsSync(secret!)).toBe(true);
    expect((await lstat(join(box.root, 'photos/link.jpg'))).isSymbolicLink()).toBe(true);
  });

  it('never enters a link to a directory outside the root', async () => {
    const outside = await bait();
    await mkdir(join(box.root, 'photos'));
    await symlink(box.outside, join(box.root, 'photos/elsewhere'));
    const rule = filesRule({ path: 'photos/**/*.jpg' });

    expect(await box.store().count(rule, olderThan(Date.now()), CONTEXT)).toBe(0);
    expect(await box.store().unjudged(rule)).toEqual({ symlink: 1 });
    expect(await sweep(box.store(), rule, everything)).toBe(0);
    for (const file of outside) expect(existsSync(file), file).toBe(true);
  });

  it('does not follow a link to a directory inside the root: each file is judged once, by its real path', async () => {
    await box.file('photos/real/a.jpg', LONG_AGO);
    await box.file('photos/real/b.jpg', LONG_AGO);
    await symlink(join(box.root, 'photos/real'), join(box.root, 'photos/alias'));
    const rule = filesRule({ path: 'photos/**/*.jpg' });

    expect(await box.store().count(rule, olderThan(Date.now()), CONTEXT)).toBe(2);
    expect(await box.store().unjudged(rule)).toEqual({ symlink: 1 });
    expect(await sweep(box.store(), rule, everything)).toBe(2);
    expect(await readdir(join(box.root, 'photos'))).toEqual(['alias']);
  });

  it('sweeps under a root that is itself a link, and leaves the link', async () => {
    const real = join(box.base, 'real-root');
    await box.file('x/a.jpg', LONG_AGO, real);
    const linked = join(box.base, 'linked-root');
    await symlink(real, linked);
    const store = new FilesStore('uploads', linked, 'stores.uploads.root in test.yaml');
    expect(await sweep(store, filesRule(), everything)).toBe(1);
    expect(await readdir(real)).toEqual([]);
    expect((await lstat(linked)).isSymbolicLink()).toBe(true);
  });
});

describe('the re-check at the moment of deletion', () => {
  /** What a sweep knows of a file when it judges it. */
  async function judge(path: string) {
    const stats = await lstat(path, { bigint: true });
    return { dev: stats.dev, ino: stats.ino, ctimeNs: stats.ctimeNs, mtimeNs: stats.mtimeNs };
  }

  it('keeps a file replaced by a link to a file outside the root between judging and deleting', async () => {
    const [secret] = await bait();
    const path = await box.file('photos/a.jpg', LONG_AGO);
    const judged = await judge(path);
    await rm(path);
    await symlink(secret!, path);

    expect(await removeUnder(box.root, 'photos/a.jpg', { judged })).toEqual({ refused: 'a symbolic link on the way' });
    expect(existsSync(secret!)).toBe(true);
    expect((await lstat(path)).isSymbolicLink()).toBe(true);
  });

  it('keeps a file whose directory was replaced by a link to a directory outside the root', async () => {
    const twin = await box.file('d/a.jpg', LONG_AGO, box.outside);
    const path = await box.file('photos/d/a.jpg', LONG_AGO);
    const judged = await judge(path);
    await rename(join(box.root, 'photos/d'), join(box.root, 'photos/moved'));
    await symlink(join(box.outside, 'd'), join(box.root, 'photos/d'));

    expect(await removeUnder(box.root, 'photos/d/a.jpg', { judged })).toEqual({ refused: 'a symbolic link on the way' });
    // Even with the judged identity forgotten (as a cascade has none), the link is refused.
    expect(await removeUnder(box.root, 'photos/d/a.jpg', {})).toEqual({ refused: 'a symbolic link on the way' });
    expect(existsSync(twin)).toBe(true);
  });

  it('keeps a file modified between judging and deleting (mtime anchor), and one replaced by another file', async () => {
    const touched = await box.file('a.jpg', LONG_AGO);
    const judgedTouched = await judge(touched);
    await utimes(touched, new Date(), new Date());
    expect(await removeUnder(box.root, 'a.jpg', { judged: judgedTouched })).toBe('changed');
    expect(existsSync(touched)).toBe(true);

    // A path anchor does not compare mtimes; the file must still be the one judged, even
    // when the new one reuses the inode number and carries the same old mtime.
    const replaced = await box.file('b.jpg', LONG_AGO);
    const judgedReplaced = { ...(await judge(replaced)), mtimeNs: null };
    await rm(replaced);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await box.file('b.jpg', LONG_AGO);
    expect(await removeUnder(box.root, 'b.jpg', { judged: judgedReplaced })).toBe('changed');
    expect(existsSync(replaced)).toBe(true);

    const same = await box.file('c.jpg', LONG_AGO);
    expect(await removeUnder(box.root, 'c.jpg', { judged: await judge(same) })).toBe('deleted');
  });
});

describe('deleteConfined (for cascades: paths from a database)', () => {
  it('deletes a file under the root and the directories it leaves empty, never the root', async () => {
    await box.file('ids/2024/05/p.jpg');
    expect(await deleteConfined(box.root, 'ids/2024/05/p.jpg')).toBe('deleted');
    expect(await readdir(box.root)).toEqual([]);
    expect(existsSync(box.root)).toBe(true);
  });

  it('reports a path already gone as missing', async () => {
    expect(await deleteConfined(box.root, 'ids/none.jpg')).toBe('missing');
    await box.file('file.jpg');
    expect(await deleteConfined(box.root, 'file.jpg/below')).toBe('missing');
  });

  it.each([
    ['../outside/secret.jpg', 'path contains ..'],
    ['ids/../../outside/secret.jpg', 'path contains ..'],
    ['/etc/passwd', 'absolute path'],
    ['', 'empty path'],
    ['.', 'path contains an empty or "." segment'],
    ['ids//x.jpg', 'path contains an empty or "." segment'],
    ['x.jpg\0.png', 'path contains NUL'],
  ])('refuses %j', async (relative, reason) => {
    const [secret] = await bait();
    expect(await deleteConfined(box.root, relative)).toEqual({ refused: reason });
    expect(existsSync(secret!)).toBe(true);
  });

  it('refuses a link, a path through a link, and a directory', async () => {
    const [secret] = await bait();
    await symlink(secret!, join(box.root, 'link.jpg'));
    await symlink(box.outside, join(box.root, 'dirlink'));
    await mkdir(join(box.root, 'dir'));
    expect(await deleteConfined(box.root, 'link.jpg')).toEqual({ refused: 'a symbolic link on the way' });
    expect(await deleteConfined(box.root, 'dirlink/secret.jpg')).toEqual({ refused: 'a symbolic link on the way' });
    expect(await deleteConfined(box.root, 'dir')).toEqual({ refused: 'not a regular file' });
    expect(existsSync(secret!)).toBe(true);
    expect(existsSync(join(box.root, 'dir'))).toBe(true);
  });
});

describe('hostile names', () => {
  it('matches names with glob and shell metacharacters literally, and judges each by its own anchor', async () => {
    const names = ['a*b.jpg', 'q?.jpg', '[x].jpg', 'new\nline.jpg', ' spaced .jpg', '$(rm -rf ~).jpg', 'ü.jpg'];
    for (const name of names) await box.file(`m/${name}`, LONG_AGO);
    const young = await box.file('m/*.jpg');
    expect(await sweep(box.store(), filesRule({ path: 'm/*.jpg' }), [{ from: null, to: Date.now() - DAY }])).toBe(names.length);
    expect(await readdir(join(box.root, 'm'))).toEqual(['*.jpg']);
    expect(existsSync(young)).toBe(true);
  });

  it('never judges a name that is not UTF-8 (it cannot be named again through a string), even beside its look-alike', async () => {
    await mkdir(join(box.root, 'm'));
    const raw = Buffer.concat([Buffer.from(`${box.root}/m/`), Buffer.from([0xff]), Buffer.from('.jpg')]);
    await writeFile(raw, 'x');
    await utimes(raw, LONG_AGO / 1000, LONG_AGO / 1000);
    const lookAlike = await box.file('m/\ufffd.jpg');
    const rule = filesRule({ path: 'm/*.jpg' });

    expect(await box.store().unjudged(rule)).toEqual({ 'undecodable name': 1 });
    expect(await sweep(box.store(), rule, [{ from: null, to: Date.now() - DAY }])).toBe(0);
    expect(existsSync(raw)).toBe(true);
    expect(existsSync(lookAlike)).toBe(true);
  });

  it('does not enter dot directories or take dotfiles unless the glob names the dot', async () => {
    await box.file('.git/objects/x.jpg', LONG_AGO);
    await box.file('p/.hidden.jpg', LONG_AGO);
    expect(await box.store().count(filesRule({ path: '**/*.jpg' }), olderThan(Date.now()), CONTEXT)).toBe(0);
    expect(await box.store().count(filesRule({ path: 'p/.*.jpg' }), olderThan(Date.now()), CONTEXT)).toBe(1);
  });
});
