import { z } from 'zod';
import type { StoreKind } from '../store-kind.js';
import type { ModuleTarget } from './module-store.js';

/** `stores.NAME` of a module store, without `kind`. */
export interface ModuleConfig {
  /** The module file: relative to the config file's directory, or absolute. */
  module: string;
  /** Handed to the module's `create` as `options`. */
  options?: Record<string, unknown> | undefined;
}

/** A path to an ES module file; a bare package name would be looked up somewhere nobody chose. */
const MODULE_PATH = /^(\.{1,2}\/|\/).*\.(m?js)$/;

const configSchema: z.ZodType<ModuleConfig> = z.strictObject({
  module: z
    .string({ error: 'module is required: the path of the store module, relative to this config file, e.g. ./stores/elastic.js' })
    .regex(MODULE_PATH, {
      error: (issue) => `${JSON.stringify(issue.input)} is not a module path: write a .js or .mjs file path starting with ./, ../ or /, e.g. ./stores/elastic.js`,
    })
    .describe('the ES module (.js or .mjs) implementing the store, relative to this config file (./, ../) or absolute'),
  options: z
    .record(z.string(), z.unknown(), { error: 'options must be a mapping, handed to the module as it is' })
    .describe("handed to the module's create as options, as written")
    .optional(),
}).describe('A store of your own: an ES module whose default export creates it (README, "Your own store"). Delete only, one batch per sweep.');

interface ParsedModuleTarget {
  target?: Record<string, unknown> | undefined;
  anchor?: string | undefined;
}

const targetSchema: z.ZodType<ParsedModuleTarget> = z.strictObject({
  /** The module's own description of what a rule sweeps (`{ collection: tickets }`). */
  target: z
    .record(z.string(), z.unknown(), { error: "target must be a mapping: what the rule sweeps, in the module's own terms" })
    .describe("what the rule sweeps, in the module's own terms, e.g. { collection: tickets }")
    .optional(),
  anchor: z
    .string({ error: 'anchor must be a string: the field that dates an item, as the module reads it' })
    .min(1)
    .describe('what dates an item, as the module reads it')
    .optional(),
});

/**
 * `kind: module`: a store implemented by the user's own ES module (README, "Your own
 * store"), loaded from `module:` on first use. Delete only, one batch per sweep, audited
 * after the change. What a rule sweeps is the module's business (`target:`), checked by
 * the module's `inspect` at `check`.
 */
export const moduleKind: StoreKind<ModuleConfig, ModuleTarget, ParsedModuleTarget> = {
  kind: 'module',
  configSchema,
  targetSchema,
  targetKeys: ['target', 'anchor'],
  capabilities: { actions: ['delete'], anonymize: false, subjects: false, audit: 'change-then-record' },
  resolveTarget: (parsed) => ({ target: parsed.target ?? {}, anchor: parsed.anchor ?? null }),
  async create(name, config, deps) {
    const { ModuleStore } = await import('./module-store.js');
    if (!deps.configFile) throw new Error(`module store ${name}: the runtime gave no config file to resolve ${JSON.stringify(config.module)} against`);
    const source = { store: name, module: config.module, configFile: deps.configFile, origin: deps.origin('module') };
    return new ModuleStore(name, source, config.options ?? {}, deps.timezone);
  },
};
