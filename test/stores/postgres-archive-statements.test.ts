import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { sqlRule } from '../../src/stores/sql/sql-target.js';
import type { TableInfo } from '../../src/stores/postgres/catalog.js';
import { actingRule, archiveProblems, moveToArchiveStatement, type ArchiveColumn, type ArchiveFacts } from '../../src/stores/postgres/archive-statements.js';
import { deleteLockedStatement } from '../../src/stores/postgres/cascades.js';
import { batchStatement } from '../../src/stores/postgres/statements.js';
import { everything, expired, ofSubject, selectionParts } from '../../src/stores/selection.js';

/** The pure half of archive: the one statement that moves a batch, and the checks of the archive table. */

const HOSTILE = "x'); DROP TABLE users; --";
const rule = sqlRule(
  parseConfig(
    stringify({
      redis: 'redis://127.0.0.1:6379',
      state: 'postgres://127.0.0.1/test',
      stores: { app: { kind: 'postgres', url: 'postgres://127.0.0.1/test' } },
      rules: [{ id: 'tickets', store: 'app', table: 'app.tickets', anchor: 'closed_at', retain: 'P1Y', action: 'archive', archiveTable: 'archive.Tickets', where: { tenant: HOSTILE } }],
    }),
    'archive.yaml',
    {},
    STORE_KINDS,
  ).rules[0]!,
);
const column = (name: string, type: string) => ({ name, type, baseType: type, category: 'other' as const, nullable: true, maxLength: null });
const table: TableInfo = {
  resolvedName: 'app.tickets',
  relkind: 'r',
  columns: new Map([['id', column('id', 'bigint')], ['closed_at', column('closed_at', 'timestamptz')], ['tenant', column('tenant', 'text')], ['Select', column('Select', 'text')]]),
  uniqueIndexes: [],
  references: [],
  referencedBy: [],
  computed: new Map(),
};
const move = { table: rule.target.archiveTable!, columns: ['id', 'closed_at', 'tenant', 'Select'] };
const parts = selectionParts(expired([{ from: null, to: Date.UTC(2024, 0, 1) }]));
const context = { hmacKey: null, timezone: 'UTC' };

describe('the statement of an archive batch', () => {
  it('is one DELETE ... RETURNING feeding an INSERT of every column, named and quoted, values bound, counting both halves', () => {
    const statement = batchStatement(rule, table, parts, { after: '10', upTo: '20' }, false, context, move);
    expect(statement.text).toMatch(
      /^WITH moved AS \(DELETE FROM "app"\."tickets" WHERE .* RETURNING "id", "closed_at", "tenant", "Select"\),\s+archived AS \(INSERT INTO "archive"\."Tickets" \("id", "closed_at", "tenant", "Select"\) OVERRIDING SYSTEM VALUE SELECT "id", "closed_at", "tenant", "Select" FROM moved RETURNING 1\)\s+SELECT \(SELECT count\(\*\) FROM moved\)::bigint AS deleted, \(SELECT count\(\*\) FROM archived\)::bigint AS inserted$/s,
    );
    expect(statement.text).not.toContain(HOSTILE);
    expect(statement.values).toContain(HOSTILE);
    expect(statement.values).toEqual(expect.arrayContaining(['10', '20']));
  });

  it('is never a bare DELETE: without the columns to move it refuses to build', () => {
    expect(() => batchStatement(rule, table, parts, { after: null, upTo: null }, false, context)).toThrow('rule tickets archives: its batch statement needs the archive table\'s columns');
    expect(() => deleteLockedStatement(rule, table, parts, { after: null, upTo: null }, ['1'], context)).toThrow('rule tickets archives');
    expect(() => moveToArchiveStatement({ text: 'UPDATE x SET y = 1', values: [] }, move)).toThrow('wraps a DELETE');
  });

  it('counts in a dry run, moving nothing', () => {
    expect(batchStatement(rule, table, parts, { after: null, upTo: null }, true, context).text).toMatch(/^SELECT count\(\*\)::bigint AS n FROM "app"\."tickets" WHERE /);
  });

  it('is the move for the locked rows of a batch whose deletes cascade', () => {
    expect(deleteLockedStatement(rule, table, parts, { after: null, upTo: null }, ['1', '2'], context, move).text).toMatch(/^WITH moved AS \(DELETE FROM "app"\."tickets" WHERE .*\),\s+archived AS \(INSERT INTO "archive"\."Tickets"/s);
  });

  it('archives for a sweep only: an erasure or a sunset deletes the rows', () => {
    expect(actingRule(rule, expired([])).action).toBe('archive');
    expect(actingRule(rule, ofSubject('a@example.com')).action).toBe('delete');
    expect(actingRule(rule, everything()).action).toBe('delete');
    const erasing = actingRule({ ...rule, subject: 'tenant' }, ofSubject('a'));
    expect(batchStatement(erasing, table, selectionParts(ofSubject('a')), { after: null, upTo: null }, false, context).text).toMatch(/^DELETE FROM "app"\."tickets" WHERE "tenant" = \$1/);
    // Other actions are left as they are.
    expect(actingRule({ ...rule, action: 'anonymize' as const }, ofSubject('a')).action).toBe('anonymize');
  });
});

const col = (name: string, type: string, more: Partial<ArchiveColumn> = {}): ArchiveColumn => ({ name, type, notNull: false, hasDefault: false, generated: false, identity: false, ...more });
const facts = (columns: ArchiveColumn[], more: Partial<ArchiveFacts> = {}): ArchiveFacts => ({
  resolvedName: 'archive.tickets',
  schema: 'archive',
  relkind: 'r',
  same: false,
  sourceColumns: [col('id', 'bigint', { notNull: true }), col('body', 'text')],
  columns,
  publicPrivileges: [],
  insertTriggers: [],
  rules: [],
  ...more,
});
const names = { archive: 'archive.tickets', source: 'app.tickets', stateSchema: 'retention' };

describe('whether an archive table can take the rows', () => {
  it('takes the same columns in any order, plus its own that fill themselves', () => {
    const own = [col('archived_at', 'timestamp with time zone', { notNull: true, hasDefault: true }), col('seq', 'bigint', { notNull: true, identity: true }), col('note', 'text')];
    expect(archiveProblems(facts([col('body', 'text'), col('id', 'bigint', { notNull: true, identity: true }), ...own]), names)).toEqual([]);
  });

  it('names each column it cannot take', () => {
    expect(archiveProblems(facts([col('id', 'integer'), col('by', 'text', { notNull: true })]), names)).toEqual([
      'column id of archive.tickets is integer, but bigint in app.tickets; archived values must keep their type',
      'archive.tickets has no column body (text) of app.tickets: its values would be lost',
      'column by of archive.tickets is NOT NULL without a default, and app.tickets has no such column to fill it (give it a default, e.g. archived_at timestamptz NOT NULL DEFAULT now())',
    ]);
  });

  it('refuses a missing table, the rule\'s own table, and tables in the state or a system schema', () => {
    expect(archiveProblems(facts([], { resolvedName: null, schema: null, relkind: null }), names)).toEqual(['archive table archive.tickets does not exist (create it with the columns of app.tickets: see README.md, "Archive")']);
    expect(archiveProblems(facts([], { same: true }), names)).toEqual(["archive.tickets is the rule's own table app.tickets; an archive rule moves rows to another table"]);
    expect(archiveProblems(facts([], { schema: 'retention', resolvedName: 'retention.tickets' }), names)[0]).toContain("this config's own state schema");
    expect(archiveProblems(facts([], { schema: 'pg_catalog', resolvedName: 'pg_catalog.tickets' }), names)[0]).toContain('a PostgreSQL system schema');
  });
});
