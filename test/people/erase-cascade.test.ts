import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openRequest } from '../../src/executor/open-request.js';
import { processRequest } from '../../src/executor/process-request.js';
import { buildReceipt } from '../../src/people/receipt.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/** A person's ID photo rows own files (`cascade:`): an erasure deletes the files with the rows. */

let env: TestEnv;
let root: string;
beforeEach(async () => {
  env = await createTestEnv();
  root = await mkdtemp(join(tmpdir(), 'retention-erase-cascade-'));
  await env.sql(`CREATE TABLE ${env.schema}.photos (id bigserial PRIMARY KEY, user_uid text NOT NULL, file_path text, paid_at timestamptz NOT NULL DEFAULT now())`);
  await mkdir(join(root, 'id'), { recursive: true });
  for (const [uid, n] of [['u-1', 2], ['u-2', 1]] as const) {
    for (let i = 0; i < n; i++) {
      const path = `id/${uid}-${i}.jpg`;
      await writeFile(join(root, path), 'x');
      await env.sql(`INSERT INTO ${env.schema}.photos (user_uid, file_path) VALUES ($1, $2)`, [uid, path]);
    }
  }
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await env.cleanup();
});

describe('an erasure of rows that own files', () => {
  it('deletes the files with the rows before the request completes, and the receipt counts both', async () => {
    const config = env.config(
      [
        {
          id: 'id-photos',
          table: 'photos',
          key: 'id',
          anchor: 'paid_at',
          retain: 'P180D',
          action: 'delete',
          subject: 'user_uid',
          cascade: [{ store: 'files', path: '{file_path}' }],
        },
      ],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, files: { kind: 'files', root } } },
    );
    const runtime = await env.runtime(config);
    const request = await openRequest(runtime, { subject: 'u-1', actor: 'test' });
    const progress = await processRequest(runtime, request.id, 'test');
    expect(progress.status).toBe('completed');
    expect((await readdir(join(root, 'id'))).sort()).toEqual(['u-2-0.jpg']);
    expect((await env.sql(`SELECT user_uid FROM ${env.schema}.photos`)).map((r) => r.user_uid)).toEqual(['u-2']);
    const receipt = (await buildReceipt(runtime.state, request.id))!;
    expect(receipt.rules[0]).toMatchObject({ rule: 'id-photos', rows: 2, objects: { files: 2 } });
  });
});
