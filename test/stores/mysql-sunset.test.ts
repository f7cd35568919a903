import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Rule } from '../../src/policy/rule.js';
import type { MysqlStore } from '../../src/stores/mysql/mysql-store.js';
import type { MysqlTarget } from '../../src/stores/mysql/mysql-target.js';
import { everything, exceptHeld, expired, type Selection } from '../../src/stores/selection.js';
import { createMysqlEnv, type MysqlEnv } from './mysql-env.js';

/**
 * A sunset's selection (`all`) on MariaDB/MySQL, against the real server: every row the
 * rule's filters select whatever its anchor (old, new, NULL, a zero or invalid date that a
 * sweep never judges), held subjects' rows kept and counted, key ranges covering the table,
 * and the rows outside every filter counted.
 */

const CONTEXT = { hmacKey: null, timezone: 'UTC' };
const CLOSED = { column: 'status', op: 'eq' as const, value: { kind: 'string' as const, text: 'closed' } };

let env: MysqlEnv;
let store: MysqlStore;
beforeEach(async () => {
  env = await createMysqlEnv();
  store = env.store();
  await env.sql(`CREATE TABLE events (id int AUTO_INCREMENT PRIMARY KEY, user_id varchar(20) NULL, status varchar(10) NULL, at datetime NULL, email varchar(50) NULL)`);
  // Zero and invalid dates need a permissive mode to be written; the store reads them as malformed.
  await env.sql(`SET SESSION sql_mode = 'ALLOW_INVALID_DATES'`);
  const anchors = ['2019-01-01 00:00:00', '2099-01-01 00:00:00', null, '0000-00-00 00:00:00', '2026-02-31 10:00:00'];
  const rows: unknown[][] = [];
  for (let g = 0; g < 300; g++) rows.push([`u${g % 3}`, g % 7 === 0 ? null : (g / 5) % 2 < 1 ? 'closed' : 'open', anchors[g % anchors.length], `e${g}@x.test`]);
  await env.sql('INSERT INTO events (user_id, status, at, email) VALUES ?', [rows]);
  await env.sql(`SET SESSION sql_mode = DEFAULT`);
});
afterEach(() => env.cleanup());

function rule(overrides: Partial<Omit<Rule<MysqlTarget>, 'target'>> & { target?: Partial<MysqlTarget> } = {}): Rule<MysqlTarget> {
  return env.rule({ subject: 'user_id', batchSize: 100, ...overrides, target: { where: [CLOSED], ...overrides.target } });
}

async function rows(where: string): Promise<number> {
  return Number((await env.sql<{ n: number | string }>(`SELECT COUNT(*) AS n FROM events WHERE ${where}`))[0]!.n);
}

async function applyAll(r: Rule<MysqlTarget>, selection: Selection): Promise<{ rows: number; held: number; batches: number }> {
  const ranges = await store.partition(r, selection);
  const total = { rows: 0, held: 0, batches: ranges.length };
  for (const keyRange of ranges) {
    const result = await store.apply({ rule: r, selection, keyRange, dryRun: false, context: CONTEXT });
    total.rows += result.rows;
    total.held += result.held ?? 0;
  }
  return total;
}

describe('mysql: a sunset selects every row of the rule, whatever its age', () => {
  it('takes every row its filters select, NULL, zero and invalid dates included, in short batches', async () => {
    const selected = await rows(`status = 'closed'`);
    expect(selected).toBeGreaterThan(100);
    expect(await store.unjudged(rule())).toMatchObject({ 'null anchor': expect.any(Number), 'malformed anchor': expect.any(Number) });
    expect(await store.count(rule(), expired([{ from: null, to: Date.now() }]), CONTEXT)).toBeLessThan(selected);
    expect(await store.count(rule(), everything(), CONTEXT)).toBe(selected);
    const done = await applyAll(rule(), everything());
    expect(done.rows).toBe(selected);
    expect(done.batches).toBeGreaterThanOrEqual(3);
    expect(await rows(`status = 'closed'`)).toBe(0);
    expect(await rows(`status IS NULL OR status <> 'closed'`)).toBe(300 - selected);
  });

  it("keeps held subjects' rows and counts them", async () => {
    const selected = await rows(`status = 'closed'`);
    const held = await rows(`status = 'closed' AND user_id = 'u1'`);
    const selection = exceptHeld(everything(), ['u1']);
    expect(await store.count(rule(), selection, CONTEXT)).toBe(selected - held);
    expect(await applyAll(rule(), selection)).toMatchObject({ rows: selected - held, held });
    expect(await rows(`status = 'closed'`)).toBe(held);
  });

  it('anonymizes every row not yet anonymized, whatever its anchor', async () => {
    const anon = rule({ action: 'anonymize', anonymize: [{ column: 'email', strategy: 'null' }], target: { where: [] } });
    expect(await store.count(anon, everything(), CONTEXT)).toBe(300);
    expect((await applyAll(anon, everything())).rows).toBe(300);
    expect(await rows('email IS NOT NULL')).toBe(0);
  });

  it("counts the rows no rule's filters select", async () => {
    const open = rule({ id: 'open', target: { where: [{ ...CLOSED, value: { kind: 'string', text: 'open' } }] } });
    expect(await store.countOutside([rule()])).toBe(await rows(`status IS NULL OR status <> 'closed'`));
    expect(await store.countOutside([rule(), open])).toBe(await rows('status IS NULL'));
    expect(await rows('status IS NULL')).toBeGreaterThan(0);
  });
});
