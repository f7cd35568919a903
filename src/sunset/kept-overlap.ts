import { splitTable, type WrittenTableName } from '../policy/table-name.js';
import type { StoreConfig } from '../policy/config.js';
import type { InventoryEntry } from '../policy/inventory.js';
import type { Rule } from '../policy/rule.js';

/**
 * Whether a rule (or a rule's cascade) could touch what a `keptBecause` inventory entry
 * keeps. A sunset must never delete kept data, and the same data can be named in many
 * ways (`invoices` and `shop.invoices`; `session:*` and `session:{subject}:*`; a root
 * `docs/contracts` and a glob `docs/**\/*.pdf`), so these answer "could they meet?",
 * leaning to yes whenever a name cannot be resolved: keeping too much is said in the plan
 * and can be fixed; deleting kept data cannot.
 */
export interface PlaceContext {
  stores: Readonly<Record<string, StoreConfig>>;
  /** A written table name on a store resolved by its catalog (`users` -> `public.users`); null when unknown. */
  tableOf: (store: string, written: string) => string | null;
  /**
   * Whether some Redis key could match both patterns (the kept entry's `keys`, the rule's).
   * Given by the caller (src/stores/redis/key-patterns-overlap.ts reads globs as Redis
   * does; this pure layer may not import stores); without it, any two patterns on one store
   * overlap: every Redis rule on a kept entry's store is kept.
   */
  keysOverlap: (kept: string, rule: string) => boolean;
}

/** The default `keysOverlap`: any two patterns may meet (keeping is the safe direction). */
export const ANY_KEYS_OVERLAP = (): boolean => true;

/**
 * What makes two store names one store: the same name, or the same kind with the same
 * database URL, files root, or bucket (and endpoint). Two names for one database are one
 * place to keep.
 */
export function sameStore(a: string, b: string, stores: Readonly<Record<string, StoreConfig>>): boolean {
  if (a === b) return true;
  const [x, y] = [stores[a], stores[b]];
  if (!x || !y) return false;
  return identity(x) === identity(y);
}

function identity(store: StoreConfig): string {
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  if (store.kind === 's3') return `s3\u0000${text(store.bucket)}\u0000${text(store.endpoint)}`;
  if (store.kind === 'files') return `files\u0000${text(store.root).replace(/\/+$/, '')}`;
  return `${store.kind}\u0000${text(store.url).replace(/\/+$/, '')}`;
}

/** The database a MySQL URL names (`mysql://u@h:3306/shop` -> `shop`), null when it names none. */
function mysqlDatabase(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\/+/, '').split('/')[0] ?? '');
    return name === '' ? null : name;
  } catch {
    return null;
  }
}

type TableName = WrittenTableName;

/**
 * The table a written name is on `store`: resolved by the catalog where it was read, a
 * MySQL name without a database in the URL's database, else as written (its schema
 * unknown when not written).
 */
function tableOn(store: string, written: string, ctx: PlaceContext): TableName {
  const resolved = ctx.tableOf(store, written);
  const settings = ctx.stores[store];
  const table = splitTable(resolved ?? written);
  if (table.schema === null && settings?.kind === 'mysql') return { schema: mysqlDatabase(settings.url), name: table.name };
  return table;
}

/**
 * True when the written table `a` on store `storeA` and `b` on `storeB` could be one table.
 * A side whose schema is unknown matches any schema; names compare without case (an
 * unquoted PostgreSQL name folds to lower case, MySQL's depend on the server's file system).
 */
export function tablesOverlap(storeA: string, a: string, storeB: string, b: string, ctx: PlaceContext): boolean {
  if (!sameStore(storeA, storeB, ctx.stores)) return false;
  const [x, y] = [tableOn(storeA, a, ctx), tableOn(storeB, b, ctx)];
  const same = (p: string, q: string) => p.toLowerCase() === q.toLowerCase();
  return same(x.name, y.name) && (x.schema === null || y.schema === null || same(x.schema, y.schema));
}

/** The text before the first character `special` matches. */
function literalHead(text: string, special: RegExp): string {
  const at = text.search(special);
  return at < 0 ? text : text.slice(0, at);
}

/**
 * True when a files/S3 path pattern or prefix (a rule's `path` glob or `prefix`, a
 * `cascade:` template such as `{file_path}`) could name something under `root`. Only the
 * literal head of the pattern (before any `*?[{`) is known; it and the root must be
 * prefix-related. For a files store the root is a directory (`docs/contracts/`); an S3
 * root is a plain key prefix.
 */
export function pathOverlapsRoot(kind: string, root: string, pattern: string): boolean {
  const trimmed = root.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return true;
  const under = kind === 'files' ? `${trimmed}/` : trimmed;
  const head = literalHead(pattern.replace(/^\/+/, ''), /[*?[{\\]/);
  // A pattern naming exactly the root directory itself (no slash) is under it too.
  return under.startsWith(head) || head.startsWith(under) || head === trimmed;
}

/**
 * True when `rule`'s own target could touch what `entry` (any entry; the caller passes
 * the kept ones) names: same store (or one store under two names), and an overlapping
 * table, key pattern or path.
 */
export function ruleOverlapsPlace(entry: InventoryEntry, rule: Rule, ctx: PlaceContext): boolean {
  if (!sameStore(entry.store, rule.store, ctx.stores)) return false;
  const target = rule.target as Record<string, unknown> | null;
  if (target === null || typeof target !== 'object') return false;
  const place = entry.place;
  if (place.kind === 'table') {
    const table = target.table as { schema: string | null; name: string } | undefined;
    if (!table || typeof table !== 'object') return false;
    return tablesOverlap(entry.store, place.table, rule.store, table.schema ? `${table.schema}.${table.name}` : table.name, ctx);
  }
  if (place.kind === 'keys') return typeof target.keys === 'string' && ctx.keysOverlap(place.pattern, target.keys);
  const where = typeof target.path === 'string' ? target.path : typeof target.prefix === 'string' ? target.prefix : null;
  // A files/s3 rule without a path or prefix covers the whole store.
  return pathOverlapsRoot(ctx.stores[entry.store]?.kind ?? 'files', place.root, where ?? '');
}

/**
 * The `cascade:` objects of `rule` (files or S3 objects its deleted rows own) that could
 * lie under `entry`'s root: `store:path` of each, empty when none.
 */
export function objectCascadesIntoPlace(entry: InventoryEntry, rule: Rule, ctx: PlaceContext): string[] {
  if (entry.place.kind !== 'root') return [];
  const root = entry.place.root;
  const cascades = ((rule.target as { cascade?: readonly { store: string; path?: string; key?: string }[] } | null)?.cascade ?? []) as readonly Record<string, unknown>[];
  return cascades
    .filter((c) => typeof c.store === 'string' && sameStore(c.store, entry.store, ctx.stores))
    .filter((c) => {
      const template = typeof c.path === 'string' ? c.path : typeof c.key === 'string' ? c.key : '';
      return pathOverlapsRoot(ctx.stores[entry.store]?.kind ?? 'files', root, template);
    })
    .map((c) => `${String(c.store)}:${String(c.path ?? c.key ?? '')}`);
}
