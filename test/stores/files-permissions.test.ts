import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DAY, sandbox, type Sandbox } from './files-fixture.js';

/**
 * Permission errors need a process that permissions apply to: as root (uid 0, where the
 * tests run here) they are checked from a child running as `nobody`.
 */
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;
const STORE = new URL('../../src/stores/files/files-store.ts', import.meta.url).pathname;
const SELECTION = new URL('../../src/stores/selection.ts', import.meta.url).pathname;

let box: Sandbox;

beforeEach(async () => {
  box = await sandbox();
  await chmod(box.base, 0o755);
});

afterEach(async () => {
  await box.remove();
});

/** Runs `call` on a FilesStore over the sandbox root as `nobody`; what it printed (the error's name and message, or the result). */
function asNobody(call: string): string {
  const script = `
    const { FilesStore } = await import(${JSON.stringify(STORE)});
    const { expired } = await import(${JSON.stringify(SELECTION)});
    const store = new FilesStore('uploads', ${JSON.stringify(box.root)}, 'stores.uploads.root in test.yaml');
    const rule = { id: 'r', hash: 'h', source: null, store: 'uploads', kind: 'files', retain: 'P1D', action: 'delete', subject: null,
      schedule: { kind: 'manual' }, anonymize: [], batchSize: 1000, timezone: 'UTC', limits: { maxRowsPerRun: null, maxFraction: 1 },
      target: { path: '**/*.jpg', anchor: { kind: 'mtime' }, anchorZone: null } };
    const selection = expired([{ from: null, to: Date.now() }]);
    try { console.log(JSON.stringify(await ${call})); } catch (e) { console.log(e.name + ': ' + e.message); }`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: new URL('../..', import.meta.url).pathname,
    uid: NOBODY,
    gid: NOBODY,
    encoding: 'utf8',
  });
  return (child.stdout + child.stderr).trim();
}

describe.runIf(asRoot)('the files store without permission', () => {
  it('reports a root it cannot list as a user error naming the store and the root', async () => {
    await chmod(box.root, 0o700);
    expect(asNobody('store.ping()')).toBe(
      `UserError: files store uploads cannot list ${box.root} (stores.uploads.root in test.yaml): permission denied (EACCES)`,
    );
  });

  it('stops with a user error naming the root, never the file, when a file cannot be deleted', async () => {
    await chmod(box.root, 0o755);
    const secretName = await box.file('alice-passport.jpg', Date.now() - 10 * DAY);
    const output = asNobody("store.apply({ rule, selection, keyRange: { after: null, upTo: null }, dryRun: false, context: { hmacKey: null, timezone: 'UTC' } })");
    expect(output).toBe(
      `UserError: files store uploads cannot delete a file matching "**/*.jpg" under ${box.root} (stores.uploads.root in test.yaml): permission denied (EACCES)`,
    );
    expect(output).not.toContain('alice');
    expect(existsSync(secretName)).toBe(true);
    // Counting needs no write access, and says what a run would do.
    expect(asNobody('store.count(rule, selection)')).toBe('1');
  });
});
