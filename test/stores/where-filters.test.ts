import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';
import { planSweep } from '../../src/planner/plan-sweep.js';
import { expired } from '../../src/stores/selection.js';

let env: TestEnv;
beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

/**
 * Every row is long expired except `recent`, so what a filter keeps or deletes among the
 * others is the filter alone. `NULL` in the status and hold columns is the trap: SQL's
 * `<>` would silently skip those rows.
 */
const ROWS: { label: string; expired: boolean; status: string | null; hold: boolean | null; tenant: number | null }[] = [
  { label: 'closed', expired: true, status: 'closed', hold: false, tenant: 1 },
  { label: 'open', expired: true, status: 'open', hold: true, tenant: 2 },
  { label: 'no-status', expired: true, status: null, hold: null, tenant: 1 },
  { label: 'capital-closed', expired: true, status: 'Closed', hold: false, tenant: null },
  { label: 'recent', expired: false, status: 'closed', hold: null, tenant: 2 },
];

/** Creates the table, counts and deletes with `where`, returns the labels deleted. */
async function sweepWhere(where: Record<string, unknown>): Promise<{ counted: number; deleted: number; gone: string[] }> {
  await env.sql(`CREATE TABLE ${env.schema}.tickets (id serial PRIMARY KEY, label text NOT NULL, at timestamptz, status text, legal_hold boolean, tenant integer)`);
  for (const row of ROWS) {
    await env.sql(
      `INSERT INTO ${env.schema}.tickets (label, at, status, legal_hold, tenant) VALUES ($1, now() - make_interval(days => $2), $3, $4, $5)`,
      [row.label, row.expired ? 400 : 1, row.status, row.hold, row.tenant],
    );
  }
  const config = env.config([{ id: 'tickets', table: 'tickets', anchor: 'at', retain: 'P180D', action: 'delete', where, limits: { maxFraction: 1 } }]);
  const runtime = await env.runtime(config);
  const rule = config.rules[0]!;
  const { ranges } = planSweep(rule, new Date());
  const store = runtime.storeFor(rule);
  const context = runtime.contextFor(rule);
  const counted = await store.count(rule, expired(ranges), context);
  const deleted = (await store.apply({ rule, selection: expired(ranges), keyRange: { after: null, upTo: null }, dryRun: false, context }, undefined)).rows;
  const left = new Set((await env.sql<{ label: string }>(`SELECT label FROM ${env.schema}.tickets`)).map((r) => r.label));
  return { counted, deleted, gone: ROWS.map((r) => r.label).filter((l) => !left.has(l)).sort() };
}

describe('where filters', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    ['deletes only expired rows equal to a value, case-sensitively (not the recent closed one)', { status: 'closed' }, ['closed']],
    ['deletes only rows whose column is NULL for {col: null}', { status: null }, ['no-status']],
    ['deletes only rows whose column is set for {col: {not: null}}', { status: { not: null } }, ['capital-closed', 'closed', 'open']],
    ['counts NULL as "not the value" for {col: {not: value}}', { status: { not: 'open' } }, ['capital-closed', 'closed', 'no-status']],
    ['spares rows on legal hold with {legal_hold: {not: true}}, deleting those with no hold recorded', { legal_hold: { not: true } }, ['capital-closed', 'closed', 'no-status']],
    ['matches a boolean false and a number, all filters together', { legal_hold: false, tenant: 1 }, ['closed']],
    ['counts a NULL number as "not the value"', { tenant: { not: 2 } }, ['capital-closed', 'closed', 'no-status']],
  ])('%s', async (_name, where, gone) => {
    const result = await sweepWhere(where);
    expect(result.gone).toEqual(gone);
    expect(result.counted).toBe(gone.length);
    expect(result.deleted).toBe(gone.length);
  });

  it('applies the filter in a queued sweep the same way', async () => {
    await env.sql(`CREATE TABLE ${env.schema}.sessions (id serial PRIMARY KEY, at timestamptz, kept boolean)`);
    await env.sql(
      `INSERT INTO ${env.schema}.sessions (at, kept)
       SELECT now() - interval '400 days', CASE g % 3 WHEN 0 THEN true WHEN 1 THEN false END FROM generate_series(1, 300) g`,
    );
    const config = env.config([{ id: 'sessions', table: 'sessions', anchor: 'at', retain: 'P30D', action: 'delete', where: { kept: { not: true } }, batchSize: 100, limits: { maxFraction: 1 } }]);
    const [result] = await env.run(config);
    const left = await env.sql<{ kept: boolean | null; n: string }>(`SELECT kept, count(*) AS n FROM ${env.schema}.sessions GROUP BY kept`);
    expect(left.map((r) => ({ kept: r.kept, n: Number(r.n) }))).toEqual([{ kept: true, n: 100 }]);
    expect(result!.sweep.rowsAffected).toBe(200);
  });
});
