import { placeText, rulesCovering } from '../coverage/find-coverage.js';
import type { Config } from '../policy/config.js';
import type { DataCategory } from '../policy/data-category.js';
import type { InventoryEntry } from '../policy/inventory.js';
import type { Rule } from '../policy/rule.js';
import { ANY_KEYS_OVERLAP, objectCascadesIntoPlace, ruleOverlapsPlace, type PlaceContext } from './kept-overlap.js';

/**
 * What a service sunset does with one inventory entry:
 * - `applied`: the rules on its place run over all its items, whatever their age;
 * - `kept`: it says why it is kept (`keptBecause`): a legal reason to keep data outlives the
 *   service, so nothing on that place is touched, not even by a rule that covers it;
 * - `gap`: no rule and no reason: nothing happens to it (coverage lists it as a gap too).
 */
export type EntryFate = 'applied' | 'kept' | 'gap';

export interface ScopedEntry {
  entry: InventoryEntry;
  /** `table public.users`, `keys session:*`, `root uploads/` */
  place: string;
  categories: DataCategory[];
  fate: EntryFate;
  /** Rules on its place (for `kept`: the rules the sunset does not apply because of it). */
  rules: Rule[];
}

/** A rule the sunset leaves alone, and the `keptBecause` entries that keep its place. */
export interface KeptRule {
  rule: Rule;
  /** `inventory[3]` */
  keptBy: string[];
  /** Why each keeps it, in words: the rule's target may name the kept place, or its rows own objects under it. */
  why: string[];
}

export interface SunsetScope {
  entries: ScopedEntry[];
  /** The rules the sunset applies, in config order: those on an inventory place and those on none (`unlisted`). */
  rules: Rule[];
  /**
   * Of `rules`, those no inventory entry names. Applied too: a rule exists because a
   * promise covers the data it selects, and the inventory may be incomplete (finding that
   * out is what `coverage` is for). Once the service is gone no sweep will ever delete
   * that data on its date, so leaving it would keep it past every promised date.
   */
  unlisted: Rule[];
  /** Rules on a `keptBecause` entry's place: not applied (keeping is the safe direction). */
  kept: KeptRule[];
  /** How names were compared (stores, resolved tables): `planSunset` compares foreign-key cascades with kept places through it. */
  places: PlaceContext;
}

/**
 * Pure: which rules a sunset applies and what becomes of each inventory entry. `tableOf`
 * resolves a written table name on a store (`users` -> `public.users`) as coverage does,
 * null when the table does not exist (then names are compared as written); `keysOverlap`
 * says whether two Redis patterns could match one key (default: always, so every Redis
 * rule on a kept entry's store is kept).
 */
export function sunsetScope(
  config: Pick<Config, 'rules' | 'inventory' | 'stores'>,
  tableOf: (store: string, written: string) => string | null,
  keysOverlap: PlaceContext['keysOverlap'] = ANY_KEYS_OVERLAP,
): SunsetScope {
  const places: PlaceContext = { stores: config.stores, tableOf, keysOverlap };
  const keptBy = new Map<string, { by: string[]; why: string[] }>();
  const keep = (rule: Rule, entry: InventoryEntry, why: string) => {
    const k = keptBy.get(rule.id) ?? { by: [], why: [] };
    if (!k.by.includes(entry.path)) k.by.push(entry.path);
    k.why.push(why);
    keptBy.set(rule.id, k);
  };
  const listed = new Set<string>();
  const entries = config.inventory.map((entry): ScopedEntry => {
    const covering = rulesCovering(entry, config.rules, tableOf);
    for (const rule of covering) listed.add(rule.id);
    if (entry.keptBecause !== null) {
      // Kept by overlap, not by equal names: a rule naming the same data another way
      // (`shop.invoices` for `invoices`, `session:{subject}:*` under `session:*`, a glob
      // under the root) or whose rows own objects under the root would delete kept data.
      const place = placeText(entry);
      for (const rule of config.rules) {
        if (covering.includes(rule) || ruleOverlapsPlace(entry, rule, places)) {
          keep(rule, entry, `its target may name what ${entry.path} (${place} on store ${entry.store}) keeps`);
        }
        const objects = objectCascadesIntoPlace(entry, rule, places);
        if (objects.length > 0) keep(rule, entry, `the objects its rows own (cascade: ${objects.join(', ')}) may lie under ${entry.path} (${place} on store ${entry.store})`);
      }
    }
    const rules = entry.keptBecause !== null ? config.rules.filter((r) => keptBy.get(r.id)?.by.includes(entry.path)) : covering;
    for (const rule of rules) listed.add(rule.id);
    const fate: EntryFate = entry.keptBecause !== null ? 'kept' : rules.length > 0 ? 'applied' : 'gap';
    const categories = [...new Set([...Object.values(entry.columns), ...entry.categories])];
    return { entry, place: placeText(entry), categories, fate, rules };
  });
  const applied = config.rules.filter((rule) => !keptBy.has(rule.id));
  return {
    // An entry whose rules are all kept by another entry on the same place is kept too.
    entries: entries.map((e) => (e.fate === 'applied' && e.rules.every((r) => keptBy.has(r.id)) ? { ...e, fate: 'kept' } : e)),
    rules: applied,
    unlisted: applied.filter((rule) => !listed.has(rule.id)),
    kept: config.rules.filter((rule) => keptBy.has(rule.id)).map((rule) => ({ rule, keptBy: keptBy.get(rule.id)!.by, why: keptBy.get(rule.id)!.why })),
    places,
  };
}
