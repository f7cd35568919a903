import { UserError, type ConfigProblem } from '../../errors.js';
import type { Rule } from '../../policy/rule.js';
import { redactText } from '../../redact.js';
import { expiredRangesOf, type Selection } from '../selection.js';
import type { BatchResult, BatchSpec, KeyRange, Store, Unjudged } from '../store.js';
import { loadPlugin, type PluginSource } from './load-plugin.js';
import type { PluginRule, PluginSelection, PluginStore } from './plugin.js';

/** The part of a rule a module store owns: its `target:` mapping and its `anchor:`. */
export interface ModuleTarget {
  target: Readonly<Record<string, unknown>>;
  anchor: string | null;
}

export type ModuleRule = Rule<ModuleTarget>;

/** Longest `describe` text: what plan and the audit show for the target. */
const MAX_DESCRIPTION = 200;

/**
 * A store implemented by a user's module (`kind: module`). It imports the module on first
 * use (a config is read synchronously; modules load asynchronously), and holds the module
 * to the contract rather than trusting it:
 *
 * - the module sees a frozen copy of the rule and the ranges, and only `expired`
 *   selections (another kind is refused here, never passed on to be misread);
 * - every count it returns must be a whole number >= 0, or the call fails naming the
 *   store and the method: a NaN or a string must not slip past the blast-radius limits;
 * - its errors keep their network `code` (so the queue retries them) and gain the store's
 *   name; anything else fails the sweep.
 *
 * One open key range per sweep (a module cannot be split ahead of time), audited after
 * the change: never in the state database's transaction.
 */
export class ModuleStore implements Store<ModuleTarget> {
  readonly kind = 'module';
  #loading: Promise<PluginStore> | null = null;

  constructor(
    readonly name: string,
    readonly source: PluginSource,
    readonly options: Readonly<Record<string, unknown>>,
    readonly timezone: string,
  ) {}

  async ping(): Promise<void> {
    const plugin = await this.#plugin();
    if (plugin.ping) await this.#call('ping', () => plugin.ping!(), true);
  }

  async inspect(rule: ModuleRule, path: string): Promise<ConfigProblem[]> {
    let plugin: PluginStore;
    try {
      plugin = await this.#plugin();
    } catch (error) {
      if (error instanceof UserError) return [{ path: `${path}.store`, message: error.message }];
      throw error;
    }
    if (!plugin.inspect) return [];
    const problems = await this.#call('inspect', () => plugin.inspect!(view(rule)));
    if (!Array.isArray(problems) || !problems.every((p) => typeof p === 'object' && p !== null && typeof p.message === 'string' && (p.path === undefined || typeof p.path === 'string'))) {
      throw this.#broken('inspect', 'an array of { path?, message }', problems);
    }
    return problems.map((p) => ({ path: p.path ? `${path}.${p.path}` : path, message: p.message }));
  }

  async count(rule: ModuleRule, selection: Selection): Promise<number> {
    const plugin = await this.#plugin();
    const selected = pluginSelection(selection);
    return this.#whole('count', await this.#call('count', () => plugin.count(view(rule), selected)));
  }

  async unjudged(rule: ModuleRule): Promise<Unjudged> {
    const plugin = await this.#plugin();
    if (!plugin.unjudged) return {};
    const reasons = await this.#call('unjudged', () => plugin.unjudged!(view(rule)));
    if (typeof reasons !== 'object' || reasons === null || Array.isArray(reasons)) throw this.#broken('unjudged', 'an object of counts by reason', reasons);
    const out: Unjudged = {};
    for (const [reason, n] of Object.entries(reasons)) {
      if (this.#whole('unjudged', n) > 0) out[reason] = n;
    }
    return out;
  }

  async total(rule: ModuleRule): Promise<number> {
    const plugin = await this.#plugin();
    return this.#whole('total', await this.#call('total', () => plugin.total(view(rule))));
  }

  /** One open range: the module sweeps its whole target in one batch. */
  async partition(): Promise<KeyRange[]> {
    return [{ after: null, upTo: null }];
  }

  async apply(batch: BatchSpec<ModuleTarget>): Promise<BatchResult> {
    const { rule, selection, keyRange, dryRun } = batch;
    if (keyRange.after !== null || keyRange.upTo !== null) {
      throw new Error(`module store ${this.name} sweeps in one batch, but was given the key range ${JSON.stringify(keyRange)}`);
    }
    const plugin = await this.#plugin();
    const selected = pluginSelection(selection);
    const rows = await this.#call('apply', () => plugin.apply(view(rule), selected, { dryRun }));
    return { rows: this.#whole('apply', rows) };
  }

  sharesTransactionsWith(): boolean {
    return false;
  }

  /** `tickets {"collection":"tickets"}`: the store and the rule's target, config values only. */
  describe(rule: ModuleRule): string {
    const text = `${this.name} ${JSON.stringify(rule.target.target)}`;
    return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 3)}...` : text;
  }

  async close(): Promise<void> {
    const loading = this.#loading;
    this.#loading = null;
    const plugin = await loading?.catch(() => null);
    if (plugin?.close) await this.#call('close', () => plugin.close!());
  }

  /** The module's store, loaded once; a failed load is tried again on the next call. */
  #plugin(): Promise<PluginStore> {
    if (!this.#loading) {
      const loading = loadPlugin(this.source, { options: this.options, timezone: this.timezone });
      loading.catch(() => {
        if (this.#loading === loading) this.#loading = null;
      });
      this.#loading = loading;
    }
    return this.#loading;
  }

  /**
   * Calls the module; an error gains the store's name and keeps its `code`, so a network
   * failure is retried by the queue. `ping` failures are UserErrors, as every store's are.
   */
  async #call<T>(method: string, call: () => Promise<T>, user = false): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const message = `store ${this.name} (module ${JSON.stringify(this.source.module)}): ${method} failed: ${redactText((error as Error)?.message ?? String(error))}`;
      const wrapped = user ? new UserError(message, { cause: error }) : new Error(message, { cause: error });
      const code = (error as { code?: unknown })?.code;
      if (typeof code === 'string') Object.assign(wrapped, { code });
      throw wrapped;
    }
  }

  #whole(method: string, value: unknown): number {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    throw this.#broken(method, 'a whole number >= 0', value);
  }

  #broken(method: string, expected: string, value: unknown): Error {
    const shown = typeof value === 'number' ? String(value) : typeof value === 'string' ? `a string` : value === null ? 'null' : typeof value;
    return new Error(`store ${this.name} (module ${JSON.stringify(this.source.module)}): ${method} returned ${shown}, not ${expected}`);
  }
}

/** A frozen copy of what the module may know about the rule. */
function view(rule: ModuleRule): PluginRule {
  // The kind's capabilities refuse other actions at config load; never pass one on as a delete.
  if (rule.action !== 'delete') throw new Error(`rule ${rule.id}: a module store can only delete, not ${rule.action}`);
  return deepFreeze({
    id: rule.id,
    action: 'delete',
    retain: rule.retain,
    timezone: rule.timezone,
    anchor: rule.target.anchor,
    target: structuredClone(rule.target.target) as Record<string, unknown>,
  });
}

/** Only a sweep's selection goes to a module; a copy, frozen. */
function pluginSelection(selection: Selection): PluginSelection {
  const ranges = expiredRangesOf(selection).map((r) => ({ from: r.from, to: r.to }));
  return deepFreeze({ kind: 'expired', ranges });
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
