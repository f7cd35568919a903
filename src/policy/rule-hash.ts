import { createHash } from 'node:crypto';
import { canonicalJson } from '../canonical-json.js';
import { redactUrl } from '../redact.js';
import type { StoreConfig } from './config.js';
import type { Rule } from './rule.js';

/**
 * Fields that change how a rule is run or described but never which rows (or keys) it
 * selects or what it does to them. Everything else, including any field added later,
 * is part of the definition: leaving a new field out of the hash could let a sweep go on
 * under a definition that is no longer the config's, while including one too many only
 * supersedes a sweep that did not need it.
 */
const NOT_DEFINITION = new Set<keyof Rule>(['source', 'schedule', 'batchSize', 'limits', 'hash']);

/**
 * The rule's definition hash: SHA-256 over the rule as resolved (after `${VAR}`
 * interpolation) and the store it runs against (its kind and settings, with the URL's
 * password hidden). Two rules with the same hash select the same data in the same store
 * and do the same to it. Sweeps, queued jobs and confirmation tokens carry it, so a
 * worker can refuse to run a rule whose definition is no longer the one its config has.
 */
export function ruleDefinitionHash(rule: Omit<Rule<unknown>, 'hash'> & { hash?: string }, store: StoreConfig | undefined): string {
  // `never: false`, the default, is left out: every rule that is not a never-store rule
  // keeps the hash it had before the field existed, so an upgrade supersedes no running
  // sweep and voids no queued job or confirmation token. `never: true` is in it, so
  // turning it on or off is a change of definition.
  const definition = Object.fromEntries(
    Object.entries(rule).filter(([k, v]) => !NOT_DEFINITION.has(k as keyof Rule) && !(k === 'never' && v === false)),
  );
  const storeIdentity = store === undefined ? null : { ...store, ...(typeof store.url === 'string' ? { url: redactUrl(store.url) } : {}) };
  return createHash('sha256').update(canonicalJson({ rule: definition, store: storeIdentity })).digest('hex');
}
