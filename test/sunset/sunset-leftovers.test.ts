import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { executeSunset, type SunsetOutcome, type SunsetReceipt } from '../../src/executor/apply-sunset.js';
import { planSunset } from '../../src/executor/sunset-plan.js';
import { formatPlan, formatReceipt } from '../../src/cli/sunset.js';
import type { Config } from '../../src/policy/config.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { sunsetScope } from '../../src/sunset/sunset-scope.js';
import { createTestEnv, type TestEnv } from '../helpers/test-env.js';

/**
 * What a sunset leaves that a plan could otherwise pass over in silence: inventory columns
 * an anonymize rule does not rewrite (they stay in clear), and an archive rule whose archive
 * table is kept (the rule deletes its rows at sunset; nothing is archived into the kept table).
 */

let env: TestEnv;
let runtime: Runtime;
let config: Config;

beforeEach(async () => {
  env = await createTestEnv();
});
afterEach(async () => {
  await env.cleanup();
});

const scope = () => sunsetScope(config, (_store, written) => written);

function executed(outcome: SunsetOutcome): SunsetReceipt {
  if (outcome.status !== 'executed') throw new Error(`sunset ${outcome.status}`);
  return outcome.receipt;
}

describe('inventory columns an anonymize rule leaves in clear', () => {
  beforeEach(async () => {
    const s = env.schema;
    await env.sql(`
      CREATE TABLE ${s}.contacts (id bigserial PRIMARY KEY, uid text NOT NULL, email text, phone text, at timestamptz);
      INSERT INTO ${s}.contacts (uid, email, phone, at) SELECT 'u' || g, 'u' || g || '@x.test', '+4930' || g, now() - g * interval '1 day' FROM generate_series(1, 4) g;
      CREATE TABLE ${s}.visits (id bigserial PRIMARY KEY, uid text NOT NULL, ip text, device text, at timestamptz);
      INSERT INTO ${s}.visits (uid, ip, device, at) SELECT 'u' || g, '203.0.113.' || g, 'phone ' || g, now() FROM generate_series(1, 3) g;
    `);
  });

  it('lists the columns no applied rule covers as remaining personal data, in the plan, the receipt and the token', async () => {
    const rules = [
      { id: 'contacts-anon', table: 'contacts', anchor: 'at', retain: 'P1Y', action: 'anonymize', anonymize: { email: 'null' }, subject: 'uid' },
      { id: 'visits-delete', table: 'visits', anchor: 'at', retain: 'P1Y', action: 'delete', subject: 'uid', where: { device: 'phone 1' } },
      { id: 'visits-anon', table: 'visits', anchor: 'at', retain: 'P1Y', action: 'anonymize', anonymize: { ip: 'null' }, subject: 'uid' },
    ];
    const inventory = [
      { store: 'app', table: `${env.schema}.contacts`, columns: { email: 'email', phone: 'phone' } },
      { store: 'app', table: `${env.schema}.visits`, columns: { ip: 'ip', device: 'device' } },
    ];
    config = env.config(rules, { inventory });
    runtime = await env.runtime(config);
    const plan = await planSunset(runtime, scope());
    const entry = (table: string) => plan.entries.find((e) => e.place === `table ${env.schema}.${table}`)!;
    // Every row is selected (no rows outside the filters), yet phone stays in clear.
    expect(entry('contacts')).toMatchObject({ fate: 'applied', outside: 0, uncoveredColumns: ['phone'] });
    // A delete rule with a filter deletes only some rows: the others keep device in clear.
    expect(entry('visits')).toMatchObject({ fate: 'applied', outside: 0, uncoveredColumns: ['device'] });
    const text = formatPlan(config, plan);
    expect(text).toContain(`inventory[0]: table ${env.schema}.contacts on store app (email, phone): rule contacts-anon; every row is selected by a rule; remaining personal data: column phone stays in clear (no applied rule anonymizes it, and none deletes every row)`);

    // The token binds it: anonymizing phone too is another plan.
    const covered = env.config([{ ...rules[0]!, anonymize: { email: 'null', phone: 'null' } }, rules[1]!, rules[2]!], { inventory });
    const coveredRuntime = await env.runtime(covered);
    const other = await planSunset(coveredRuntime, sunsetScope(covered, (_store, written) => written));
    expect(other.entries[0]).toMatchObject({ uncoveredColumns: [] });
    expect(other.token).not.toBe(plan.token);

    const receipt = executed(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' }));
    expect(receipt.entries.find((e) => e.path === 'inventory[0]')).toMatchObject({ uncoveredColumns: ['phone'] });
    expect(formatReceipt(receipt)).toContain(`remains: inventory[0] table ${env.schema}.contacts: column phone in clear (no applied rule anonymizes it, and none deletes every row)`);
    const phones = await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${env.schema}.contacts WHERE phone IS NOT NULL AND email IS NULL`);
    expect(Number(phones[0]!.n)).toBe(4);
  });

  it('counts a delete rule without filters as covering every column', async () => {
    config = env.config(
      [
        { id: 'contacts-anon', table: 'contacts', anchor: 'at', retain: 'P1Y', action: 'anonymize', anonymize: { email: 'null' }, subject: 'uid' },
        { id: 'contacts-delete', table: 'contacts', anchor: 'at', retain: 'P2Y', action: 'delete', subject: 'uid' },
      ],
      { inventory: [{ store: 'app', table: `${env.schema}.contacts`, columns: { email: 'email', phone: 'phone' } }] },
    );
    runtime = await env.runtime(config);
    const plan = await planSunset(runtime, scope());
    expect(plan.entries[0]).toMatchObject({ fate: 'applied', uncoveredColumns: [] });
    expect(formatPlan(config, plan)).not.toContain('remaining personal data');
  });
});

describe('an archive rule whose archive table is kept', () => {
  it('is flagged in the plan: deleted at sunset, its archive table kept, nothing archived into it', async () => {
    const s = env.schema;
    await env.sql(`
      CREATE TABLE ${s}.orders (id bigserial PRIMARY KEY, buyer text, done_at timestamptz);
      CREATE TABLE ${s}.orders_archive (LIKE ${s}.orders INCLUDING CONSTRAINTS INCLUDING INDEXES, archived_at timestamptz NOT NULL DEFAULT now());
      INSERT INTO ${s}.orders (buyer, done_at) SELECT 'b' || g, now() - g * interval '1 day' FROM generate_series(1, 5) g;
      INSERT INTO ${s}.orders_archive (id, buyer, done_at) VALUES (1000, 'old', now() - interval '3 years');
    `);
    config = env.config(
      [{ id: 'orders-archive', table: 'orders', anchor: 'done_at', retain: 'P1Y', action: 'archive', archiveTable: `${s}.orders_archive`, subject: 'buyer' }],
      {
        inventory: [
          { store: 'app', table: `${s}.orders`, columns: { buyer: 'name' } },
          { store: 'app', table: `${s}.orders_archive`, columns: { buyer: 'name' }, keptBecause: 'commercial code: ten years' },
        ],
      },
    );
    runtime = await env.runtime(config);
    const plan = await planSunset(runtime, scope());
    expect(plan.rules).toEqual([
      expect.objectContaining({ id: 'orders-archive', action: 'delete', affected: 5, archiveKept: [{ table: `${s}.orders_archive`, keptBy: 'inventory[1]', keptBecause: 'commercial code: ten years' }] }),
    ]);
    expect(formatPlan(config, plan)).toContain(`an archive rule: deleted at sunset; its archive table ${s}.orders_archive is kept because "commercial code: ten years" (inventory[1]): its rows are deleted, not archived`);
    const receipt = executed(await executeSunset(runtime, scope(), { token: plan.token, actor: 'test' }));
    expect(receipt.rules[0]).toMatchObject({ status: 'done', changed: 5 });
    const count = async (table: string) => Number((await env.sql<{ n: string }>(`SELECT count(*) AS n FROM ${s}.${table}`))[0]!.n);
    expect(await count('orders')).toBe(0);
    // The kept archive is untouched: nothing moved in, nothing deleted.
    expect(await count('orders_archive')).toBe(1);
  });
});
