import type { Config } from '../policy/config.js';
import type { DataCategory } from '../policy/data-category.js';
import type { InventoryEntry } from '../policy/inventory.js';
import { SUBJECT_PLACEHOLDER, type Rule } from '../policy/rule.js';
import { personalCategoryOf } from './personal-column.js';
import type { StoreFacts } from './store-facts.js';

/** The store kinds coverage reads the catalog of; rules and inventory on others are listed as not inspected. */
export const INSPECTED_KINDS: readonly string[] = ['postgres', 'mysql'];

/** A column that looks like personal data and that neither a rule nor the inventory accounts for. */
export interface UncoveredColumn {
  store: string;
  table: string;
  column: string;
  type: string;
  category: DataCategory;
}

/** An inventory entry with no rule on its place and no `keptBecause`. */
export interface UnruledEntry {
  store: string;
  /** `inventory[2]` */
  path: string;
  /** `table public.users`, `keys session:*`, `root uploads/` */
  place: string;
  categories: DataCategory[];
}

/** A rule or inventory entry naming a table or column the database does not have. */
export interface MissingThing {
  store: string;
  /** `rules[0].table`, `inventory[1].columns.phone` */
  path: string;
  message: string;
}

export interface NotInspected {
  store: string;
  kind: string;
  /** Paths of the rules and inventory entries on it (`rules[3]`, `inventory[0]`). */
  entries: string[];
}

export interface CoverageReport {
  inspected: string[];
  notInspected: NotInspected[];
  uncoveredColumns: UncoveredColumn[];
  unruledEntries: UnruledEntry[];
  missing: MissingThing[];
}

/** True when the report shows something a person must act on; `coverage` exits 1 then. */
export const hasGaps = (report: CoverageReport): boolean =>
  report.uncoveredColumns.length + report.unruledEntries.length + report.missing.length > 0;

/** The parts of a SQL rule's target coverage reads (src/stores/sql/sql-target.ts has them all). */
interface TableTarget {
  table: { schema: string | null; name: string };
  key: string;
  anchor: string;
  where?: { column: string }[];
}

function tableTarget(rule: Rule): TableTarget | null {
  const target = rule.target as Partial<TableTarget> | null;
  if (target === null || typeof target !== 'object' || typeof target.table !== 'object' || target.table === null) return null;
  return target as TableTarget;
}

const shown = (table: { schema: string | null; name: string }) => (table.schema ? `${table.schema}.${table.name}` : table.name);

/** Written table names on `store` the catalog must resolve: every rule's and inventory entry's. */
export function namedTables(config: Pick<Config, 'rules' | 'inventory'>, store: string): { schema: string | null; name: string }[] {
  const out = new Map<string, { schema: string | null; name: string }>();
  for (const rule of config.rules) {
    const target = rule.store === store ? tableTarget(rule) : null;
    if (target) out.set(shown(target.table), target.table);
  }
  for (const entry of config.inventory) {
    if (entry.store !== store || entry.place.kind !== 'table') continue;
    const [first, second] = entry.place.table.split('.');
    out.set(entry.place.table, second === undefined ? { schema: null, name: first! } : { schema: first!, name: second });
  }
  return [...out.values()];
}

/**
 * Compares a config with what the inspected stores hold. `facts` has an entry for every
 * store coverage read (the PostgreSQL and MariaDB/MySQL ones); the others are reported as
 * not inspected.
 */
export function findCoverage(config: Pick<Config, 'rules' | 'inventory' | 'stores'>, facts: ReadonlyMap<string, StoreFacts>): CoverageReport {
  const report: CoverageReport = { inspected: [...facts.keys()], notInspected: [], uncoveredColumns: [], unruledEntries: [], missing: [] };
  const rulePaths = config.rules.map((rule, i) => ({ rule, path: `rules[${i}]` }));

  /** The table a written name is on `store`: resolved where the catalog was read, else as written. */
  const tableOf = (store: string, written: string): string | null => {
    const storeFacts = facts.get(store);
    return storeFacts ? (storeFacts.resolved.get(written) ?? null) : written;
  };
  const ruledTables = (store: string): Set<string> =>
    new Set(
      rulePaths
        .filter(({ rule }) => rule.store === store)
        .map(({ rule }) => tableTarget(rule))
        .flatMap((t) => (t ? [tableOf(store, shown(t.table))] : []))
        .filter((t): t is string => t !== null),
    );

  // b) inventory entries nothing covers
  for (const entry of config.inventory) {
    if (entry.keptBecause !== null || rulesCovering(entry, config.rules, tableOf).length > 0) continue;
    const categories = [...new Set([...Object.values(entry.columns), ...entry.categories])];
    report.unruledEntries.push({ store: entry.store, path: entry.path, place: placeText(entry), categories });
  }

  for (const [store, storeFacts] of facts) {
    const columnsOf = new Map<string, Set<string>>();
    for (const c of storeFacts.columns) {
      const set = columnsOf.get(c.table) ?? new Set<string>();
      set.add(c.column);
      columnsOf.set(c.table, set);
    }
    const ruled = ruledTables(store);
    // What the inventory accounts for: whole tables (an entry without columns) or columns.
    const inventoried = new Map<string, 'all' | Set<string>>();
    for (const entry of config.inventory) {
      if (entry.store !== store || entry.place.kind !== 'table') continue;
      const table = storeFacts.resolved.get(entry.place.table) ?? null;
      if (table === null) {
        report.missing.push({ store, path: `${entry.path}.table`, message: `table ${entry.place.table} does not exist in store ${store}` });
        continue;
      }
      const columns = Object.keys(entry.columns);
      const existing = columnsOf.get(table) ?? new Set<string>();
      for (const column of columns) {
        if (!existing.has(column)) report.missing.push({ store, path: `${entry.path}.columns.${column}`, message: `column ${column} does not exist in ${table}` });
      }
      const before = inventoried.get(table);
      if (columns.length === 0 || before === 'all') inventoried.set(table, 'all');
      else inventoried.set(table, new Set([...(before ?? []), ...columns]));
    }

    // a) personal-looking columns nothing covers
    for (const c of storeFacts.columns) {
      if (!c.scanned || ruled.has(c.table)) continue;
      const held = inventoried.get(c.table);
      if (held === 'all' || held?.has(c.column)) continue;
      const category = personalCategoryOf({ name: c.column, kind: c.kind });
      if (category) report.uncoveredColumns.push({ store, table: c.table, column: c.column, type: c.shownType, category });
    }

    // c) rules naming what does not exist
    for (const { rule, path } of rulePaths) {
      const target = rule.store === store ? tableTarget(rule) : null;
      if (!target) continue;
      const table = storeFacts.resolved.get(shown(target.table)) ?? null;
      if (table === null) {
        report.missing.push({ store, path: `${path}.table`, message: `table ${shown(target.table)} does not exist in store ${store}` });
        continue;
      }
      const existing = columnsOf.get(table) ?? new Set<string>();
      const named: [string, string][] = [
        ['key', target.key],
        ['anchor', target.anchor],
        ...(rule.subject !== null && rule.subject !== SUBJECT_PLACEHOLDER ? [['subject', rule.subject] as [string, string]] : []),
        ...rule.anonymize.map((a): [string, string] => [`anonymize.${a.column}`, a.column]),
        ...(target.where ?? []).map((w): [string, string] => [`where.${w.column}`, w.column]),
      ];
      for (const [field, column] of named) {
        if (!existing.has(column)) report.missing.push({ store, path: `${path}.${field}`, message: `column ${column} does not exist in ${table}` });
      }
    }
  }

  for (const [store, settings] of Object.entries(config.stores)) {
    if (facts.has(store)) continue;
    const entries = [
      ...rulePaths.filter(({ rule }) => rule.store === store).map(({ path }) => path),
      ...config.inventory.filter((e) => e.store === store).map((e) => e.path),
    ];
    report.notInspected.push({ store, kind: settings.kind, entries });
  }
  return report;
}

/** `table public.users`, `keys session:*`, `root uploads/`: an entry's place, as reports name it. */
export function placeText(entry: InventoryEntry): string {
  const place = entry.place;
  return place.kind === 'table' ? `table ${place.table}` : place.kind === 'keys' ? `keys ${place.pattern}` : `root ${place.root}`;
}

/**
 * The rules on the entry's store and place: the same table (as resolved by `tableOf`; as
 * written where it resolves to none), the same key pattern, or a path or prefix inside
 * the entry's root. `retention sunset` applies them.
 */
export function rulesCovering(entry: InventoryEntry, rules: readonly Rule[], tableOf: (store: string, written: string) => string | null): Rule[] {
  const place = entry.place;
  return rules.filter((rule) => {
    if (rule.store !== entry.store) return false;
    const target = rule.target as Record<string, unknown> | null;
    if (target === null || typeof target !== 'object') return false;
    if (place.kind === 'table') {
      const t = tableTarget(rule);
      if (!t) return false;
      const mine = tableOf(entry.store, place.table);
      return mine !== null ? tableOf(entry.store, shown(t.table)) === mine : shown(t.table) === place.table;
    }
    if (place.kind === 'keys') return target.keys === place.pattern;
    const root = place.root.replace(/^\/+|\/+$/g, '');
    const where = typeof target.path === 'string' ? target.path : typeof target.prefix === 'string' ? target.prefix : null;
    return where !== null && (root === '' || where.replace(/^\/+/, '') === root || where.replace(/^\/+/, '').startsWith(`${root}/`));
  });
}
