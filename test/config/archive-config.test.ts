import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import type { Config } from '../../src/policy/config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

/** `action: archive` and `archiveTable` in the config: what the loader refuses, by rule and field. */

const stores = {
  app: { kind: 'postgres', url: 'postgres://127.0.0.1/test' },
  legacy: { kind: 'mysql', url: 'mysql://root@127.0.0.1:3306/app' },
  cache: { kind: 'redis', url: 'redis://127.0.0.1:6379' },
  photos: { kind: 'files', root: '/srv/photos' },
};

const archive = { id: 'tickets', store: 'app', table: 'app.tickets', anchor: 'closed_at', retain: 'P1Y', action: 'archive', archiveTable: 'archive.tickets' };

function load(rules: Record<string, unknown>[]): Config {
  return parseConfig(stringify({ redis: 'redis://127.0.0.1:6379', state: 'postgres://127.0.0.1/test', stateSchema: 'retention', stores, rules }), 'archive.yaml', {}, STORE_KINDS);
}

function problems(rules: Record<string, unknown>[]): string[] {
  try {
    load(rules);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.path}: ${p.message}`);
    throw error;
  }
  return [];
}

describe('archive rules in the config', () => {
  it('loads an archive rule with its archive table, split like the rule table, and the batch size of a rule that writes rows', () => {
    const [rule] = load([archive]).rules;
    expect(rule).toMatchObject({ action: 'archive', batchSize: 10_000, target: { table: { schema: 'app', name: 'tickets' }, archiveTable: { schema: 'archive', name: 'tickets' } } });
    expect(load([{ ...archive, archiveTable: 'tickets_archive' }]).rules[0]!.target).toMatchObject({ archiveTable: { schema: null, name: 'tickets_archive' } });
  });

  it('requires archiveTable with action archive, and refuses it with any other action', () => {
    const { archiveTable: _none, ...bare } = archive;
    expect(problems([bare])).toEqual(['rules[0].archiveTable: action is archive, so archiveTable must name the table expired rows are moved to (schema.table, with the same columns)']);
    expect(problems([{ ...archive, action: 'delete' }])).toEqual(["rules[0].archiveTable: archiveTable is only for archive rules; this rule's action is delete, which moves no row"]);
    expect(problems([{ ...archive, action: 'anonymize', anonymize: { email: 'null' } }])).toEqual(["rules[0].archiveTable: archiveTable is only for archive rules; this rule's action is anonymize, which moves no row"]);
  });

  it('refuses an archive table that is not a plain name, the rule\'s own table, or in the state or a system schema', () => {
    expect(problems([{ ...archive, archiveTable: 'archive.tickets; DROP TABLE x' }])).toEqual([
      'rules[0].archiveTable: "archive.tickets; DROP TABLE x" is not a valid table name (name or schema.name; letters, digits, _ and $, not starting with a digit)',
    ]);
    expect(problems([{ ...archive, archiveTable: 'app.tickets' }])).toEqual(["rules[0].archiveTable: app.tickets is the rule's own table; an archive rule moves rows to another table"]);
    expect(problems([{ ...archive, archiveTable: 'retention.tickets' }])).toEqual([
      "rules[0].archiveTable: retention.tickets is in retention, this config's own state schema (stateSchema); rows are never archived there",
    ]);
    expect(problems([{ ...archive, archiveTable: 'pg_catalog.tickets' }])).toEqual(['rules[0].archiveTable: pg_catalog.tickets is in pg_catalog, a PostgreSQL system schema; rows are never archived there']);
  });

  it('refuses cascade: (files the row owns) on an archive rule: the archived row still names them', () => {
    expect(problems([{ ...archive, cascade: [{ store: 'photos', path: '{file_path}' }] }])).toEqual([
      "rules[0].cascade: cascade is for rules that delete rows of a PostgreSQL table; an archive rule moves each row to its archive table, where it still names its files, so they must stay (let the archive table's own delete rule carry the cascade)",
    ]);
  });

  it('takes cascades: allow on an archive rule, whose move deletes from its table as a delete does', () => {
    expect(problems([{ ...archive, cascades: 'allow' }])).toEqual([]);
  });

  it('refuses archive on stores that cannot archive, naming the store and what they can do', () => {
    expect(problems([{ id: 'conv', store: 'legacy', table: 'conversations', anchor: 'ended_at', retain: 'P1Y', action: 'archive', archiveTable: 'conversations_archive' }])).toEqual([
      'rules[0].archiveTable: archiveTable is for postgres stores: a MySQL rule cannot archive rows (yet); delete or anonymize them, or keep the table in PostgreSQL',
      'rules[0].action: a rule on a mysql store can only delete or anonymize (store legacy)',
    ]);
    expect(problems([{ id: 'sessions', store: 'cache', keys: 'session:*', anchor: 'at', anchorUnit: 'ms', retain: 'P1D', action: 'archive' }])).toContain(
      'rules[0].action: a rule on a redis store can only delete or expire (store cache)',
    );
    expect(problems([{ id: 'photos', store: 'photos', path: '**/*.jpg', anchor: 'mtime', retain: 'P1D', action: 'archive' }])).toEqual([
      'rules[0].action: a rule on a files store can only delete (store photos)',
    ]);
  });

  it('lists archive among the actions when the action is unknown', () => {
    expect(problems([{ ...archive, action: 'move' }])).toEqual(['rules[0].action: "move" is not an action (delete, anonymize, expire or archive)']);
  });

  it('makes the archive table part of the rule definition: another archive table is another definition', () => {
    const [a] = load([archive]).rules;
    const [b] = load([{ ...archive, archiveTable: 'archive.tickets_v2' }]).rules;
    const [c] = load([archive]).rules;
    expect(a!.hash).toBe(c!.hash);
    expect(a!.hash).not.toBe(b!.hash);
  });
});
