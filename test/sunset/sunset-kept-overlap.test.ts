import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/policy/load-config.js';
import { keyPatternsOverlap } from '../../src/stores/redis/key-patterns-overlap.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { sunsetScope } from '../../src/sunset/sunset-scope.js';

/**
 * A `keptBecause` place is kept from every rule that could touch it, however the rule
 * names the same data: a MySQL table with or without its database, a Redis pattern with a
 * `{subject}` segment under the kept one, a glob under a kept root, objects rows own
 * under a kept root. Rules on other data on those stores still run.
 */

function config(rules: Record<string, unknown>[], inventory: Record<string, unknown>[]) {
  const text = stringify({
    redis: 'redis://127.0.0.1:6379',
    state: 'postgres://postgres@127.0.0.1:5432/test',
    stores: {
      app: { kind: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/test' },
      shop: { kind: 'mysql', url: 'mysql://root@127.0.0.1:3306/shop' },
      cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' },
      docs: { kind: 'files', root: '/srv/docs' },
      // The same directory under a second name: one place.
      docs2: { kind: 'files', root: '/srv/docs' },
    },
    rules,
    inventory,
  });
  return parseConfig(text, 'overlap.yaml', {}, STORE_KINDS);
}

const asWritten = (_store: string, written: string) => written;
const sql = { anchor: 'at', retain: 'P1Y', action: 'delete' };

describe('sunset scope: kept places by overlap', () => {
  it('keeps a MySQL table written without its database when a rule names it with the database of the URL', () => {
    const c = config(
      [
        { id: 'invoices', store: 'shop', table: 'shop.invoices', ...sql },
        { id: 'carts', store: 'shop', table: 'shop.carts', ...sql },
        { id: 'elsewhere', store: 'shop', table: 'archive.invoices', ...sql },
      ],
      [{ store: 'shop', table: 'invoices', columns: { name: 'name' }, keptBecause: 'tax law: ten years' }],
    );
    const scope = sunsetScope(c, asWritten, keyPatternsOverlap);
    expect(scope.kept.map((k) => [k.rule.id, k.keptBy])).toEqual([['invoices', ['inventory[0]']]]);
    expect(scope.rules.map((r) => r.id)).toEqual(['carts', 'elsewhere']);
  });

  it('keeps Redis keys a rule names with a {subject} segment under the kept pattern, and applies a rule on other keys', () => {
    const redis = { store: 'cache', anchor: 'at', anchorUnit: 'ms', retain: 'P1D', action: 'delete' };
    const c = config(
      [
        { id: 'sessions', keys: 'session:{subject}:*', ...redis },
        { id: 'carts', keys: 'cart:*', ...redis },
      ],
      [{ store: 'cache', keys: 'session:*', categories: ['ip'], keptBecause: 'fraud investigation' }],
    );
    const scope = sunsetScope(c, asWritten, keyPatternsOverlap);
    expect(scope.kept.map((k) => k.rule.id)).toEqual(['sessions']);
    expect(scope.rules.map((r) => r.id)).toEqual(['carts']);
    // Without a precise comparison every Redis rule on the store is kept: never the other way.
    expect(sunsetScope(c, asWritten).kept.map((k) => k.rule.id)).toEqual(['sessions', 'carts']);
  });

  it('keeps a kept root from a glob whose literal head lies above it, from the same directory under another store name, and from objects rows own', () => {
    const files = { anchor: 'mtime', retain: 'P1Y', action: 'delete' };
    const c = config(
      [
        { id: 'pdfs', store: 'docs', path: 'docs/**/*.pdf', ...files },
        { id: 'contracts-by-alias', store: 'docs2', path: 'docs/contracts/*.pdf', ...files },
        { id: 'photos', store: 'docs', path: 'photos/**/*.jpg', ...files },
        { id: 'signers', store: 'app', table: 'public.signers', ...sql, cascade: [{ store: 'docs', path: '{scan_path}' }] },
      ],
      [{ store: 'docs', root: 'docs/contracts', categories: ['other'], keptBecause: 'signed contracts: statute of limitations' }],
    );
    const scope = sunsetScope(c, asWritten, keyPatternsOverlap);
    expect(scope.kept.map((k) => k.rule.id)).toEqual(['pdfs', 'contracts-by-alias', 'signers']);
    expect(scope.kept.find((k) => k.rule.id === 'signers')!.why.join(' ')).toContain('objects its rows own');
    expect(scope.rules.map((r) => r.id)).toEqual(['photos']);
    expect(scope.entries[0]!.rules.map((r) => r.id)).toEqual(['pdfs', 'contracts-by-alias', 'signers']);
  });

  it('reads Redis patterns as Redis does to tell which can meet', () => {
    expect(keyPatternsOverlap('session:*', 'session:{subject}:*')).toBe(true);
    expect(keyPatternsOverlap('session:*', '*:logins:*')).toBe(true);
    expect(keyPatternsOverlap('session:*', 'sess*')).toBe(true);
    expect(keyPatternsOverlap('session:*', 'cart:*')).toBe(false);
    expect(keyPatternsOverlap('session:a*', 'session:b*')).toBe(false);
  });
});
