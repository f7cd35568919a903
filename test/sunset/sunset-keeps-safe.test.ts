import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeSunset, type SunsetOutcome, type SunsetReceipt } from '../../src/executor/apply-sunset.js';
import { addHold } from '../../src/executor/place-hold.js';
import { planSunset } from '../../src/executor/sunset-plan.js';
import type { Config } from '../../src/policy/config.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import type { Store } from '../../src/stores/store.js';
import { sunsetScope } from '../../src/sunset/sunset-scope.js';
import { createTestEnv, DATABASE_URL, type TestEnv } from '../helpers/test-env.js';

/**
 * What a sunset must keep, against the real database: rows of a kept table its rules'
 * foreign keys would cascade into; a held person's rows in rules that cannot tell whose
 * rows are theirs; and what it must finish: objects rows deleted by an earlier run still
 * own, however many, before it says complete.
 */

let env: TestEnv;
let base: string;

beforeEach(async () => {
  env = await createTestEnv();
  base = mkdtempSync(join(tmpdir(), 'retention-sunset-safe-'));
});
afterEach(async () => {
  rmSync(base, { recursive: true, force: true });
  await env.cleanup();
});

const scope = (config: Config) => sunsetScope(config, (_store, written) => written);

function executed(outcome: SunsetOutcome): SunsetReceipt {
  if (outcome.status !== 'executed') throw new Error(`sunset ${outcome.status}`);
  return outcome.receipt;
}

async function rows(table: string): Promise<number> {
  return Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.${table}`))[0]!.n);
}

describe('sunset keeps what it must', () => {
  it('does not apply a rule whose deletes cascade through a foreign key into a kept table, and says why', async () => {
    const s = env.schema;
    await env.sql(`
      CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, uid text NOT NULL UNIQUE, closed_at timestamptz);
      CREATE TABLE ${s}.invoices (id bigserial PRIMARY KEY, uid text REFERENCES ${s}.users (uid) ON DELETE CASCADE);
      INSERT INTO ${s}.users (uid) SELECT 'u' || g FROM generate_series(1, 5) g;
      INSERT INTO ${s}.invoices (uid) SELECT 'u' || g FROM generate_series(1, 5) g;
    `);
    const config = env.config([{ id: 'users', table: 'users', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid', cascades: 'allow' }], {
      inventory: [
        { store: 'app', table: `${s}.users`, categories: ['email'] },
        { store: 'app', table: `${s}.invoices`, categories: ['name'], keptBecause: 'tax law: ten years' },
      ],
    });
    const runtime = await env.runtime(config);
    const plan = await planSunset(runtime, scope(config));
    expect(plan.rules.map((r) => r.id)).toEqual([]);
    expect(plan.kept).toEqual([
      { id: 'users', target: expect.any(String), keptBy: ['inventory[1]'], why: [expect.stringContaining(`cascade through foreign keys into ${s}.invoices`)] },
    ]);
    expect(plan.entries.map((e) => [e.path, e.fate, e.keptBy ?? null])).toEqual([
      ['inventory[0]', 'kept', ['inventory[1]']],
      ['inventory[1]', 'kept', null],
    ]);
    const receipt = executed(await executeSunset(runtime, scope(config), { token: plan.token, actor: 'test' }));
    expect(receipt.kept.map((k) => k.id)).toEqual(['users']);
    expect(await rows('invoices')).toBe(5);
    expect(await rows('users')).toBe(5);
  });

  it('holds a rule without subject while any subject hold is in force, and counts its rows as staying', async () => {
    const s = env.schema;
    await env.sql(`
      CREATE TABLE ${s}.users (id bigserial PRIMARY KEY, uid text NOT NULL, closed_at timestamptz);
      CREATE TABLE ${s}.access_log (id bigserial PRIMARY KEY, line text, at timestamptz);
      INSERT INTO ${s}.users (uid) SELECT 'u' || g FROM generate_series(1, 4) g;
      INSERT INTO ${s}.access_log (line) SELECT 'u1 logged in ' || g FROM generate_series(1, 6) g;
    `);
    const config = env.config(
      [
        { id: 'users', table: 'users', anchor: 'closed_at', retain: 'P3Y', action: 'delete', subject: 'uid' },
        { id: 'access-log', table: 'access_log', anchor: 'at', retain: 'P90D', action: 'delete' },
      ],
      {
        inventory: [
          { store: 'app', table: `${s}.users`, categories: ['email'] },
          { store: 'app', table: `${s}.access_log`, categories: ['ip'] },
        ],
      },
    );
    const runtime = await env.runtime(config);
    const hold = await addHold(runtime, { subject: 'u1', reason: 'litigation 2026-9', actor: 'legal:kim' });
    const plan = await planSunset(runtime, scope(config));
    const log = plan.rules.find((r) => r.id === 'access-log')!;
    expect(log).toMatchObject({ affected: 0, held: 6, ruleHold: { id: hold.id }, heldWhy: expect.stringContaining('cannot tell whose its items are') });
    expect(plan.rules.find((r) => r.id === 'users')).toMatchObject({ affected: 3, held: 1, ruleHold: null });
    // Its only rule is held: every row stays.
    expect(plan.entries.find((e) => e.path === 'inventory[1]')!.outside).toBe(6);
    expect(plan.entries.find((e) => e.path === 'inventory[0]')!.outside).toBe(0);

    const receipt = executed(await executeSunset(runtime, scope(config), { token: plan.token, actor: 'test' }));
    expect(receipt.rules.find((r) => r.id === 'access-log')).toMatchObject({ status: 'held', changed: 0 });
    expect(await rows('access_log')).toBe(6);
    expect(await rows('users')).toBe(1);
  });
});

describe('sunset finishes the objects rows owned', () => {
  const PHOTOS = 5;
  let root: string;
  let config: Config;
  let runtime: Runtime;

  beforeEach(async () => {
    root = join(base, 'uploads');
    mkdirSync(root);
    await env.sql(`CREATE TABLE ${env.schema}.id_photos (id bigserial PRIMARY KEY, paid_at timestamptz, file_path text)`);
    for (let i = 1; i <= PHOTOS; i++) {
      await env.sql(`INSERT INTO ${env.schema}.id_photos (paid_at, file_path) VALUES (now(), $1)`, [`p${i}.jpg`]);
      writeFileSync(join(root, `p${i}.jpg`), 'jpeg');
    }
    config = env.config(
      [{ id: 'photos', table: 'id_photos', anchor: 'paid_at', retain: 'P180D', action: 'delete', cascade: [{ store: 'photos', path: '{file_path}' }] }],
      { stores: { app: { kind: 'postgres', url: DATABASE_URL }, photos: { kind: 'files', root } }, inventory: [{ store: 'app', table: `${env.schema}.id_photos`, categories: ['photo'] }] },
    );
    runtime = await env.runtime(config);
  });

  const files = () => Array.from({ length: PHOTOS }, (_, i) => existsSync(join(root, `p${i + 1}.jpg`))).filter(Boolean).length;
  const outbox = async () => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM "${env.stateSchema}".cascade_outbox`))[0]!.n);

  /** A run that dies once its rows' batch committed: the rows are gone, their objects queued, nothing drained. */
  async function crashAfterRows(): Promise<SunsetReceipt> {
    const crashing: Runtime = {
      ...runtime,
      storeFor: (rule) =>
        new Proxy(runtime.storeFor(rule), {
          get(target, property) {
            if (property === 'apply') {
              return async (...args: Parameters<Store['apply']>) => {
                await target.apply(...args);
                throw new Error('crash after the batch committed');
              };
            }
            const value: unknown = Reflect.get(target, property, target);
            return typeof value === 'function' ? value.bind(target) : value;
          },
        }),
    };
    const plan = await planSunset(runtime, scope(config));
    return executed(await executeSunset(crashing, scope(config), { token: plan.token, actor: 'test', drain: { maxSteps: 0 } }));
  }

  it('drains on a rerun the objects an earlier crashed run left queued, and is complete only once none is left', async () => {
    const first = await crashAfterRows();
    expect(first.complete).toBe(false);
    expect(first.objectsLeft).toEqual({ app: PHOTOS });
    expect(await rows('id_photos')).toBe(0);
    expect(await outbox()).toBe(PHOTOS);

    const plan = await planSunset(runtime, scope(config));
    expect(plan.rules.find((r) => r.id === 'photos')!.affected).toBe(0);
    expect(plan.outbox).toEqual({ app: PHOTOS });
    const again = executed(await executeSunset(runtime, scope(config), { token: plan.token, actor: 'test' }));
    expect(again.objects.app).toMatchObject({ deleted: PHOTOS, failed: 0 });
    expect(again.objectsLeft).toEqual({ app: 0 });
    expect(again.complete).toBe(true);
    expect(files()).toBe(0);
    expect(await outbox()).toBe(0);
  });

  it('reports the entries a bounded drain or a not-yet-due entry leaves, and is not complete while any remain', async () => {
    await crashAfterRows();
    // One entry postponed (as after a failed try): not due during this sunset.
    await env.sql(`UPDATE "${env.stateSchema}".cascade_outbox SET not_before = now() + interval '1 hour' WHERE id = (SELECT min(id) FROM "${env.stateSchema}".cascade_outbox)`);
    const plan = await planSunset(runtime, scope(config));
    const bounded = executed(await executeSunset(runtime, scope(config), { token: plan.token, actor: 'test', drain: { chunk: 2, maxSteps: 1 } }));
    expect(bounded.objects.app!.deleted).toBe(2);
    expect(bounded.objectsLeft).toEqual({ app: PHOTOS - 2 });
    expect(bounded.complete).toBe(false);

    const next = await planSunset(runtime, scope(config));
    const unbounded = executed(await executeSunset(runtime, scope(config), { token: next.token, actor: 'test' }));
    // Drained until nothing due was claimed: only the postponed entry stays, and says so.
    expect(unbounded.objects.app!.deleted).toBe(PHOTOS - 3);
    expect(unbounded.objectsLeft).toEqual({ app: 1 });
    expect(unbounded.complete).toBe(false);
    expect(files()).toBe(1);
  });
});
