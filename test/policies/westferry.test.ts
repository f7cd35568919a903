import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertRows } from './insert-rows.js';
import { knownAges } from './known-ages.js';
import { createPolicyWorld, type PolicyWorld } from './policy-world.js';

/**
 * config/policies/westferry.yaml as shipped, on its own schema
 * (config/policies/westferry.sql). The policy lists what it collects and promises no
 * period, so the file has no rule: `check` passes, `run --all` changes nothing (old rows
 * included), and `coverage` lists every kind of data the policy names as a gap and exits 1.
 */

const ages = knownAges();
/** Old enough for any period Westferry might choose; kept all the same: no promise, no rule. */
const OLD = ages.ago({ years: 12 });

let world: PolicyWorld;

beforeAll(async () => {
  world = await createPolicyWorld('westferry');
  await insertRows(world.db, 'westferry.users', [
    { id: 1, login: 'ann', password_hash: '$argon2id$1', email: 'ann@example.com', full_name: 'Ann Example', profile: 'likes tea', created_at: OLD },
    { id: 2, login: 'bob', password_hash: '$argon2id$2', email: 'bob@example.com', full_name: 'Bob Example', profile: null, created_at: ages.ago({ days: 1 }) },
  ]);
  await insertRows(world.db, 'westferry.connections', [
    { id: 1, user_id: 1, ip: '198.51.100.1', user_agent: 'Mozilla/5.0', connected_at: OLD },
    { id: 2, user_id: 2, ip: '198.51.100.2', user_agent: 'Mozilla/5.0', connected_at: ages.ago({ hours: 1 }) },
  ]);
  await insertRows(world.db, 'westferry.transactions', [{ id: 1, user_id: 1, items: 'two books', amount_cents: 3998, shipping_address: '1 Ferry Lane, London', occurred_at: OLD }]);
  await insertRows(world.db, 'westferry.sessions', [{ id: 1, user_id: 1, page: '/cart', response_ms: 120, visit_ms: 45000, interactions: JSON.stringify([{ click: 'buy' }]), started_at: OLD }]);
  await insertRows(world.db, 'westferry.payment_methods', [{ id: 1, user_id: 1, card_holder: 'ANN EXAMPLE', card_number: '4111111111111111', card_expiry: '12/30', added_at: OLD }]);
  await insertRows(world.db, 'westferry.comments', [{ id: 1, user_id: 2, kind: 'review', body: 'Great service', created_at: OLD }]);
});

afterAll(async () => {
  await world?.cleanup();
});

describe('config/policies/westferry.yaml', () => {
  it('passes check with no rule', async () => {
    const check = await world.cli(['check']);
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/ok \(0 rules, 1 store, time zone UTC\)/);
  });

  it('changes nothing when run: it has no period to enforce, however old the data', async () => {
    const run = await world.cli(['run', '--all', '--json', '--actor', 'policy-test']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).rules).toEqual([]);
    for (const [table, ids] of Object.entries({ users: ['1', '2'], connections: ['1', '2'], transactions: ['1'], sessions: ['1'], payment_methods: ['1'], comments: ['1'] })) {
      expect(await world.ids(`westferry.${table}`), table).toEqual(ids);
    }
  });

  it('reports every kind of data the policy lists as a gap, and exits 1', async () => {
    const coverage = await world.cli(['coverage', '--json']);
    expect(coverage.code).toBe(1);
    expect(coverage.stderr).toBe('retention: coverage: 7 gaps found in config/policies/westferry.yaml\n');
    const report = JSON.parse(coverage.stdout);
    expect(report).toEqual({
      ok: false,
      inspected: ['app'],
      notInspected: [],
      uncoveredColumns: [],
      unruledEntries: [
        { store: 'app', path: 'inventory[0]', place: 'table westferry.connections', categories: ['ip', 'device'] },
        { store: 'app', path: 'inventory[1]', place: 'table westferry.users', categories: ['other'] },
        { store: 'app', path: 'inventory[2]', place: 'table westferry.users', categories: ['email', 'name', 'other'] },
        { store: 'app', path: 'inventory[3]', place: 'table westferry.transactions', categories: ['other', 'address'] },
        { store: 'app', path: 'inventory[4]', place: 'table westferry.sessions', categories: ['other'] },
        { store: 'app', path: 'inventory[5]', place: 'table westferry.payment_methods', categories: ['name', 'payment'] },
        { store: 'app', path: 'inventory[6]', place: 'table westferry.comments', categories: ['other'] },
      ],
      missing: [],
    });
  });

  it('prints the gaps as a list, one line per kind of data', async () => {
    const coverage = await world.cli(['coverage']);
    expect(coverage.code).toBe(1);
    expect(coverage.stdout.split('\n').filter((l) => l !== '')).toEqual([
      'Personal-data columns no rule or inventory entry covers: none',
      'Inventory entries with no rule and no keptBecause: 7',
      '  config/policies/westferry.yaml: inventory[0]: table westferry.connections on store app (ip, device)',
      '  config/policies/westferry.yaml: inventory[1]: table westferry.users on store app (other)',
      '  config/policies/westferry.yaml: inventory[2]: table westferry.users on store app (email, name, other)',
      '  config/policies/westferry.yaml: inventory[3]: table westferry.transactions on store app (other, address)',
      '  config/policies/westferry.yaml: inventory[4]: table westferry.sessions on store app (other)',
      '  config/policies/westferry.yaml: inventory[5]: table westferry.payment_methods on store app (name, payment)',
      '  config/policies/westferry.yaml: inventory[6]: table westferry.comments on store app (other)',
      'Rules and inventory entries naming what does not exist: none',
      'Not inspected (coverage reads only postgres, mysql stores yet; these are NOT checked): none',
      '7 gaps',
    ]);
  });

  // With no rule, the run above recorded nothing: verifying an empty log proves only that
  // the command runs against the file's state schema, so the emptiness is asserted too.
  it('records nothing in the audit log: no rule, no sweep, no entry', async () => {
    const listed = await world.cli(['audit', 'list', '--json']);
    expect(listed.stderr).toBe('');
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual([]);
    const verify = await world.cli(['audit', 'verify']);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
  });
});
