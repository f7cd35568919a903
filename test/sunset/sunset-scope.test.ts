import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { receiptDigest, sunsetToken } from '../../src/sunset/sunset-digest.js';
import { sunsetScope } from '../../src/sunset/sunset-scope.js';
import { stringify } from 'yaml';

/**
 * Which rules a sunset applies, from the config alone: rules on an inventory place, rules
 * on none (applied too), rules on a place the inventory keeps for a stated reason (never
 * applied, whatever else they cover), and entries no rule covers (gaps); tables named
 * differently matched through the resolver; and the token and receipt digests.
 */

function config(rules: Record<string, unknown>[], inventory: Record<string, unknown>[]) {
  const text = stringify({
    redis: 'redis://127.0.0.1:6379',
    state: 'postgres://postgres@127.0.0.1:5432/test',
    stores: { app: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' }, cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' }, up: { kind: 'files', root: '/srv/up' } },
    rules: rules.map((r) => ({ store: 'app', anchor: 'at', retain: 'P1Y', action: 'delete', ...r })),
    inventory,
  });
  return parseConfig(text, 'scope.yaml', {}, STORE_KINDS);
}

const asWritten = (_store: string, written: string) => written;

describe('sunsetScope', () => {
  it('applies rules on inventory places and rules on none, keeps reasoned places, and names gaps', () => {
    const c = config(
      [
        { id: 'users', table: 'public.users' },
        { id: 'logins', table: 'public.logins' },
        { id: 'invoices', table: 'public.invoices' },
        { id: 'audit-trail', table: 'public.audit_trail' },
        { id: 'sessions', store: 'cache', keys: 'session:*', anchorUnit: 'ms', anchor: 'at' },
        { id: 'photos', store: 'up', path: 'photos/**/*.jpg', anchor: 'mtime' },
      ],
      [
        { store: 'app', table: 'public.users', columns: { email: 'email' } },
        { store: 'app', table: 'public.invoices', columns: { name: 'name' }, keptBecause: 'tax law' },
        { store: 'app', table: 'public.tickets', columns: { email: 'email' } },
        { store: 'cache', keys: 'session:*', categories: ['ip'] },
        { store: 'up', root: 'photos', categories: ['photo'] },
      ],
    );
    const scope = sunsetScope(c, asWritten);
    expect(scope.rules.map((r) => r.id)).toEqual(['users', 'logins', 'audit-trail', 'sessions', 'photos']);
    expect(scope.unlisted.map((r) => r.id)).toEqual(['logins', 'audit-trail']);
    expect(scope.kept.map((k) => [k.rule.id, k.keptBy])).toEqual([['invoices', ['inventory[1]']]]);
    expect(scope.entries.map((e) => [e.entry.path, e.fate, e.rules.map((r) => r.id)])).toEqual([
      ['inventory[0]', 'applied', ['users']],
      ['inventory[1]', 'kept', ['invoices']],
      ['inventory[2]', 'gap', []],
      ['inventory[3]', 'applied', ['sessions']],
      ['inventory[4]', 'applied', ['photos']],
    ]);
    expect(scope.entries[0]!.categories).toEqual(['email']);
  });

  it('keeps a place one entry keeps even when another entry on it has no reason: keeping is the safe direction', () => {
    const c = config(
      [{ id: 'contracts', table: 'public.contracts' }],
      [
        { store: 'app', table: 'public.contracts', columns: { email: 'email' } },
        { store: 'app', table: 'public.contracts', columns: { signature: 'other' }, keptBecause: 'signed contracts: statute of limitations' },
      ],
    );
    const scope = sunsetScope(c, asWritten);
    expect(scope.rules).toEqual([]);
    expect(scope.entries.map((e) => e.fate)).toEqual(['kept', 'kept']);
  });

  it('matches a table written with and without its schema through the resolver', () => {
    const c = config([{ id: 'users', table: 'users' }], [{ store: 'app', table: 'public.users', columns: { email: 'email' } }]);
    expect(sunsetScope(c, asWritten).unlisted.map((r) => r.id)).toEqual(['users']);
    const resolved = sunsetScope(c, (_store, written) => (written === 'users' || written === 'public.users' ? 'public.users' : null));
    expect(resolved.unlisted).toEqual([]);
    expect(resolved.entries[0]!.fate).toBe('applied');
  });

  it('gives one token for one plan whatever the key order, another for any change, and digests a receipt without its own digest', () => {
    const facts = { configHash: 'c', rules: [{ id: 'a', affected: 3 }], holds: ['1'] };
    expect(sunsetToken(facts)).toBe(sunsetToken({ holds: ['1'], rules: [{ affected: 3, id: 'a' }], configHash: 'c' }));
    expect(sunsetToken(facts)).not.toBe(sunsetToken({ ...facts, rules: [{ id: 'a', affected: 4 }] }));
    expect(sunsetToken(facts)).not.toBe(sunsetToken({ ...facts, holds: ['1', '2'] }));
    const body = { sunsetId: 's', totals: { changed: 3 } };
    const digest = receiptDigest(body);
    expect(receiptDigest({ ...body, digest, closing: { seq: 9, hash: 'h' } })).toBe(digest);
    expect(receiptDigest({ ...body, totals: { changed: 4 } })).not.toBe(digest);
  });
});
