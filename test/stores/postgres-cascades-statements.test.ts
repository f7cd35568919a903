import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';
import { sqlRule } from '../../src/stores/sql/sql-target.js';
import type { TableInfo } from '../../src/stores/postgres/catalog.js';
import { cascadeCountStatement, cascadeProblems, groupTargets, lockTargetStatement, type CascadeEdge } from '../../src/stores/postgres/cascades.js';
import { expired, selectionParts } from '../../src/stores/selection.js';

/** The pure half of cascades: grouping paths into tables, and statements that bind every value. */

const edge = (constraint: string, table: string, action: CascadeEdge['action'], childColumns: string[], parentColumns = ['id']): CascadeEdge => ({
  constraint,
  action,
  child: { oid: table.length, schema: 'shop', name: table, resolvedName: `shop.${table}` },
  childColumns,
  parentColumns,
});

const logins = edge('logins_fk', 'logins', 'cascade', ['user_id']);
const orders = edge('orders_fk', 'orders', 'cascade', ['user_id']);
const items = edge('items_order_fk', 'items', 'cascade', ['order_id', 'region'], ['id', 'region']);
const bought = edge('items_buyer_fk', 'items', 'cascade', ['buyer_id']);
const notes = edge('notes_fk', 'notes', 'set null', ['author_id']);

const HOSTILE = "x'); DROP TABLE users; --";
const rule = sqlRule(
  parseConfig(
  stringify({
    redis: 'redis://127.0.0.1:6379',
    state: 'postgres://127.0.0.1/test',
    stores: { app: { kind: 'postgres', url: 'postgres://127.0.0.1/test' } },
    rules: [{ id: 'users', store: 'app', table: 'shop.users', anchor: 'created_at', retain: 'P1Y', action: 'delete', where: { tenant: HOSTILE } }],
  }),
  'cascades.yaml',
  {},
  STORE_KINDS,
  ).rules[0]!,
);
const table: TableInfo = {
  resolvedName: 'shop.users',
  relkind: 'r',
  columns: new Map([['created_at', { name: 'created_at', type: 'timestamp with time zone', baseType: 'timestamptz', nullable: false, maxLength: null }]]),
} as unknown as TableInfo;

describe('cascade targets', () => {
  it('groups the paths into one table each, parents before children, SET NULL tables apart', () => {
    const targets = groupTargets([[logins], [orders], [orders, items], [bought], [notes]]);
    expect(targets.map((t) => [t.label, t.effect, t.paths.length])).toEqual([
      ['shop.logins', 'deleted', 1],
      ['shop.notes (set null)', 'modified', 1],
      ['shop.orders', 'deleted', 1],
      ['shop.items', 'deleted', 2],
    ]);
  });

  it('counts a table reached two ways once, through every key column, with every value bound', () => {
    const cascades = { targets: groupTargets([[orders], [orders, items], [bought]]), cycles: [] };
    const statement = cascadeCountStatement(rule, table, cascades, selectionParts(expired([{ from: null, to: Date.UTC(2025, 0, 1) }])), {} as never, { after: '100', upTo: '200' });
    expect(statement.text).not.toContain('DROP TABLE');
    expect(JSON.stringify(statement.values)).toContain(JSON.stringify(HOSTILE));
    expect(statement.text).toContain('("t"."order_id", "t"."region") = ("l1"."id", "l1"."region")');
    // One count per table; the second path into items is an OR, not a second count.
    expect(statement.text.match(/count\(\*\)/g)).toHaveLength(2);
    expect(statement.text).toContain(' OR ');
    // Rows reached from an earlier batch's keys are left to that batch.
    expect(statement.text).toContain('AND NOT');
    expect(statement.values).toContain('100');
  });

  it('locks the target rows that reference the locked keys, passed as one array', () => {
    const [target] = groupTargets([[logins]]);
    const statement = lockTargetStatement(rule, target!, { after: null, upTo: null }, ['1', '2']);
    expect(statement.text).toMatch(/FOR UPDATE OF t\) AS locked$/);
    expect(statement.values).toEqual([['1', '2']]);
  });

  it('refuses without cascades: allow, naming each table, path and constraint; allows with it', () => {
    const cascades = { targets: groupTargets([[orders, items], [notes]]), cycles: [] };
    const [problem] = cascadeProblems(rule, cascades, 'rules[3]');
    expect(problem!.path).toBe('rules[3].table');
    expect(problem!.message).toContain('shop.items via shop.orders (items_order_fk: ON DELETE CASCADE)');
    expect(problem!.message).toContain('shop.notes (notes_fk: ON DELETE SET NULL)');
    expect(cascadeProblems({ ...rule, target: { ...rule.target, cascades: 'allow' } }, cascades, 'rules[3]')).toEqual([]);
    expect(cascadeProblems({ ...rule, target: { ...rule.target, cascades: 'allow' } }, { targets: [], cycles: [[orders, edge('loop', 'users', 'cascade', ['x'])]] }, 'rules[3]')).toHaveLength(1);
  });
});
