import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UserError } from '../../errors.js';
import { redactText } from '../../redact.js';
import { OPTIONAL_METHODS, REQUIRED_METHODS, type PluginSetup, type PluginStore } from './plugin.js';

/** Where a module store comes from, for loading and for messages. */
export interface PluginSource {
  /** The store's name (`stores.NAME`). */
  store: string;
  /** `stores.NAME.module` as written. */
  module: string;
  /** The config file it was written in: a relative `module` is relative to its directory. */
  configFile: string;
  /** "stores.NAME.module in config.yaml", for messages. */
  origin: string;
}

/** The module file a config names: relative to the config file's directory, or absolute. */
export function modulePath(source: Pick<PluginSource, 'module' | 'configFile'>): string {
  return isAbsolute(source.module) ? source.module : resolve(dirname(resolve(source.configFile)), source.module);
}

/**
 * Imports the module, checks that its default export is a store plugin, creates the store
 * and checks that it has the methods the contract requires, each a function. Every
 * failure is a UserError naming the store, the file and what is missing, so `check`
 * reports it instead of a sweep failing half-way.
 */
export async function loadPlugin(source: PluginSource, setup: Omit<PluginSetup, 'name' | 'baseDir'>): Promise<PluginStore> {
  const file = modulePath(source);
  const where = `store ${source.store}: module ${JSON.stringify(source.module)} (${source.origin})`;
  const fail = (what: string, cause?: unknown) => new UserError(`${where} ${redactText(what)}`, cause === undefined ? {} : { cause });
  const found = await stat(file).catch(() => null);
  if (!found?.isFile()) throw fail(`is not a file: ${file} does not exist (a relative path is relative to the config file)`);
  let exports: Record<string, unknown>;
  try {
    exports = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw fail(`cannot be loaded: ${(error as Error).message}`, error);
  }
  const plugin = exports.default;
  if (plugin === undefined) {
    throw fail('has no default export: it must `export default { create(setup) { ... return store } }` (README, "Your own store")');
  }
  if (typeof plugin !== 'object' || plugin === null || typeof (plugin as { create?: unknown }).create !== 'function') {
    throw fail('has a default export without a create function: it must be `{ create(setup) { ... return store } }` (README, "Your own store")');
  }
  let store: unknown;
  try {
    store = await (plugin as { create: (setup: PluginSetup) => unknown }).create({ ...setup, name: source.store, baseDir: dirname(resolve(source.configFile)) });
  } catch (error) {
    throw fail(`failed in create(): ${(error as Error).message}`, error);
  }
  if (typeof store !== 'object' || store === null) throw fail(`create() returned ${store === null ? 'null' : typeof store}, not a store object`);
  const methods = store as Record<string, unknown>;
  const missing = REQUIRED_METHODS.filter((m) => typeof methods[m] !== 'function');
  if (missing.length > 0) {
    throw fail(`created a store without ${missing.join(', ')} (every store has count, total and apply; README, "Your own store")`);
  }
  const wrong = OPTIONAL_METHODS.filter((m) => methods[m] !== undefined && typeof methods[m] !== 'function');
  if (wrong.length > 0) throw fail(`created a store whose ${wrong.join(', ')} ${wrong.length === 1 ? 'is not a function' : 'are not functions'}`);
  return store as PluginStore;
}
