import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMain, tempDir } from '../cli/cli-harness.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * The blast-radius limits count the objects (files) a `cascade:` rule's rows own: they are
 * data the sweep deletes, so a sweep whose rows fit under maxRowsPerRun but whose rows plus
 * files do not is blocked by `run` and by `plan` alike, with the same confirmation token.
 */

let env: TestEnv;
let base: string;
let root: string;
let configDir: ReturnType<typeof tempDir>;

beforeEach(async () => {
  env = await createTestEnv();
  base = mkdtempSync(join(tmpdir(), 'retention-cascade-limits-'));
  root = join(base, 'uploads');
  mkdirSync(root);
  configDir = tempDir();
});
afterEach(async () => {
  rmSync(base, { recursive: true, force: true });
  configDir.remove();
  await env.cleanup();
});

const EXPIRED = 5;
const LIVE = 2;

/** EXPIRED rows 200 days old and LIVE rows 10 days old, each owning one file under the root. */
async function photos(): Promise<void> {
  await env.sql(`CREATE TABLE ${env.schema}.id_photos (id bigserial PRIMARY KEY, paid_at timestamptz, file_path text)`);
  for (let i = 0; i < EXPIRED + LIVE; i++) {
    const age = i < EXPIRED ? '200 days' : '10 days';
    await env.sql(`INSERT INTO ${env.schema}.id_photos (paid_at, file_path) VALUES (now() - $1::interval, $2)`, [age, `p${i}.jpg`]);
    writeFileSync(join(root, `p${i}.jpg`), 'jpeg');
  }
}

function configFile(limits: Record<string, unknown>): string {
  const rule = {
    id: 'id-photos-180d',
    source: 'privacy policy: ID photos are deleted 180 days after payment',
    table: 'id_photos',
    anchor: 'paid_at',
    retain: 'P180D',
    action: 'delete',
    cascade: [{ store: 'photos', path: '{file_path}' }],
    limits,
  };
  const stores = { stores: { app: { kind: 'postgres', url: DATABASE_URL }, photos: { kind: 'files', root } } };
  return configDir.write('retention.yaml', env.configYaml([rule], stores));
}

async function rowCount(): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.id_photos`))[0]!.n);
}

describe('blast-radius limits with row-to-file cascades', () => {
  it('counts the files the rows own toward maxRowsPerRun: rows under it, rows plus files over it, blocks and deletes nothing until confirmed', async () => {
    await photos();
    // 5 rows fit under 7; 5 rows and their 5 files (10) do not.
    const limit = EXPIRED + 2;
    const file = configFile({ maxRowsPerRun: limit, maxFraction: 1 });

    const planned = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout) as {
      rules: { affected: number; objects?: Record<string, number>; blocked?: { reason: string; confirm: string } }[];
    };
    const plan = planned.rules[0]!;
    expect(plan).toMatchObject({ affected: EXPIRED, objects: { photos: EXPIRED } });
    expect(plan.blocked?.reason).toContain(`more than maxRowsPerRun ${limit}`);
    expect(plan.blocked?.confirm.startsWith(`${EXPIRED * 2}.`)).toBe(true);

    const blocked = await runMain(['run', '--rule', 'id-photos-180d', '--config', file]);
    expect(blocked.code).toBe(3);
    expect(blocked.stderr).toContain(`more than maxRowsPerRun ${limit}`);
    expect(await rowCount()).toBe(EXPIRED + LIVE);
    expect(readdirSync(root).length).toBe(EXPIRED + LIVE);

    // The token run names is plan's, and it lets the run through: rows and files go.
    const token = /--confirm (\S+)/.exec(blocked.stderr)![1]!;
    expect(token).toBe(plan.blocked!.confirm);
    const confirmed = await runMain(['run', '--rule', 'id-photos-180d', '--confirm', token, '--config', file]);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(await rowCount()).toBe(LIVE);
    for (let i = 0; i < EXPIRED; i++) expect(existsSync(join(root, `p${i}.jpg`))).toBe(false);
    expect(readdirSync(root).sort()).toEqual(['p5.jpg', 'p6.jpg']);
  });

  it('lets a sweep whose rows plus files fit under maxRowsPerRun run without a token', async () => {
    await photos();
    const file = configFile({ maxRowsPerRun: EXPIRED * 2, maxFraction: 1 });
    const plan = JSON.parse((await runMain(['plan', '--json', '--config', file])).stdout).rules[0];
    expect(plan.blocked).toBeUndefined();
    const run = await runMain(['run', '--rule', 'id-photos-180d', '--config', file]);
    expect(run.code, run.stderr).toBe(0);
    expect(await rowCount()).toBe(LIVE);
    expect(readdirSync(root).sort()).toEqual(['p5.jpg', 'p6.jpg']);
  });
});
