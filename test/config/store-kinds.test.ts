import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import type { StoreKindCatalog } from '../../src/policy/store-kind-catalog.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

const base = {
  redis: 'redis://127.0.0.1:6379',
  state: 'postgres://127.0.0.1/test',
};

function problems(config: Record<string, unknown>, kinds: StoreKindCatalog = STORE_KINDS): string[] {
  try {
    parseConfig(stringify({ ...base, ...config }), 'kinds.yaml', {}, kinds);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

/** A kind the loader has never heard of, declared the way a store folder declares one. */
const notebook = {
  kind: 'notebook',
  configSchema: z.strictObject({ shelf: z.string({ error: 'shelf is required' }) }),
  targetSchema: z.strictObject({ pages: z.string({ error: (issue) => (issue.input === undefined ? 'a notebook rule needs pages' : 'pages must be a string') }) }),
  targetKeys: ['pages'],
  capabilities: { actions: ['delete'] as const, anonymize: false, subjects: false },
};

describe('store kinds in the config', () => {
  it('refuses an unknown kind at stores.NAME.kind, listing the known ones', () => {
    const known = STORE_KINDS.map((k) => k.kind).join(', ');
    expect(problems({ stores: { docs: { kind: 'mongo', url: 'mongodb://x' } }, rules: [] })).toEqual([`stores.docs.kind: "mongo" is not a store kind (known: ${known})`]);
  });

  it("checks a store's settings with its kind's own schema, with the path of the field", () => {
    expect(problems({ stores: { app: { kind: 'postgres', url: 'mysql://x' } }, rules: [] })).toEqual(['stores.app.url: must be a postgres:// URL']);
    expect(problems({ stores: { app: { kind: 'postgres', url: 'postgres://x', bucket: 'b' } }, rules: [] })).toEqual(['stores.app: unknown key "bucket"']);
  });

  it('takes a kind from the catalog it is given: its settings, its rule fields as the target, its actions', () => {
    const config = parseConfig(
      stringify({ ...base, stores: { notes: { kind: 'notebook', shelf: 'top' } }, rules: [{ id: 'n', store: 'notes', pages: 'diary/*', retain: 'P1Y', action: 'delete' }] }),
      'kinds.yaml',
      {},
      [notebook],
    );
    expect(config.stores.notes).toEqual({ kind: 'notebook', shelf: 'top' });
    expect(config.rules[0]).toMatchObject({ kind: 'notebook', store: 'notes', target: { pages: 'diary/*' } });
    expect(problems({ stores: { notes: { kind: 'notebook', shelf: 'top' } }, rules: [{ id: 'n', store: 'notes', retain: 'P1Y', action: 'anonymize', anonymize: { x: 'null' } }] }, [notebook])).toEqual([
      'rules[0].pages: a notebook rule needs pages',
      'rules[0].action: a rule on a notebook store can only delete (store notes)',
    ]);
    // Without the kind in the catalog, the same config names what is known.
    expect(problems({ stores: { notes: { kind: 'notebook', shelf: 'top' } }, rules: [] })[0]).toMatch(/^stores\.notes\.kind: "notebook" is not a store kind \(known: postgres, redis/);
  });

  it("says a rule field belongs to another kind, in that kind's words where it has them", () => {
    const stores = { app: { kind: 'postgres', url: 'postgres://x' }, cache: { kind: 'redis', url: 'redis://x' } };
    expect(problems({ stores, rules: [{ id: 'a', store: 'app', table: 't', keys: 'k:*', anchor: 'at', retain: 'P1Y', action: 'delete' }] })).toEqual([
      'rules[0].keys: keys is for redis stores; this rule sweeps a table',
    ]);
    expect(problems({ stores, rules: [{ id: 'b', store: 'cache', keys: 'k:*', table: 't', anchor: 'at', anchorUnit: 'ms', retain: 'P1Y', action: 'delete' }] })).toEqual([
      'rules[0].table: a rule on a redis store sweeps keys, not a table: use keys',
    ]);
    // A misspelt rule key is still a misspelling, with the kinds' keys among the suggestions.
    expect(problems({ stores, rules: [{ id: 'c', store: 'app', tabel: 't', table: 't', anchor: 'at', retain: 'P1Y', action: 'delete' }] })).toEqual([
      'rules[0]: unknown key "tabel" (did you mean "table"?)',
    ]);
  });

  it('keeps the per-kind target out of the common fields and in the definition hash', () => {
    const stores = { app: { kind: 'postgres', url: 'postgres://x' } };
    const rule = { id: 'a', store: 'app', table: 'logs', anchor: 'at', retain: 'P1Y', action: 'delete' };
    const one = parseConfig(stringify({ ...base, stores, rules: [rule] }), 'k.yaml', {}, STORE_KINDS).rules[0]!;
    const other = parseConfig(stringify({ ...base, stores, rules: [{ ...rule, table: 'other' }] }), 'k.yaml', {}, STORE_KINDS).rules[0]!;
    expect(one).not.toHaveProperty('table');
    expect(one.target).toMatchObject({ table: { schema: null, name: 'logs' }, anchor: 'at', key: 'id', where: [], anchorZone: { name: 'UTC', from: 'timezone' } });
    expect(one.hash).not.toBe(other.hash);
  });
});
