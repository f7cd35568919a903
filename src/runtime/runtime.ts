import type { AnonymizeContext } from '../anonymize/strategy.js';
import { auditKeyFrom } from '../audit/audit-key.js';
import { describeOrigin, type Config } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import { migrate, stateDb, type StateDb } from '../state/state-db.js';
import { ping } from '../stores/postgres/connect.js';
import { createStore, Databases } from '../stores/registry.js';
import type { Store } from '../stores/store.js';

/** Everything a command or worker needs below the config: connections, never opened at import. */
export interface Runtime {
  config: Config;
  state: StateDb;
  /** Store for a rule; throws for a store the config does not define. */
  storeFor(rule: Rule): Store;
  /** Run-time inputs for anonymization (secrets stay out of payloads). */
  contextFor(rule: Rule): AnonymizeContext;
  /**
   * Secret key of the audit trail, from $RETENTION_AUDIT_KEY: keys the hash chain and the
   * digests of row keys written to the audit log. Never stored in a database.
   */
  auditKey: Buffer | null;
  /** Every distinct store in the config. */
  stores(): Store[];
  close(): Promise<void>;
}

/** Builds the runtime. Creates pools but opens no connection; `connectRuntime` does. */
export function openRuntime(config: Config, env: NodeJS.ProcessEnv = process.env): Runtime {
  const databases = new Databases();
  const auditKey = auditKeyFrom(env);
  const state = stateDb(databases.get(config.state, describeOrigin(config, 'state')), config.stateSchema, auditKey);
  const stores = new Map<string, Store>(
    Object.entries(config.stores).map(([name, store]) => [
      name,
      createStore(name, store, describeOrigin(config, `stores.${name}.url`), { databases, queuePrefix: config.queuePrefix }),
    ]),
  );
  const hmacKey = env.RETENTION_HMAC_KEY ? Buffer.from(env.RETENTION_HMAC_KEY, 'utf8') : null;
  return {
    config,
    state,
    storeFor(rule) {
      const store = stores.get(rule.store);
      if (!store) throw new Error(`rule ${rule.id} names store ${rule.store}, which this config does not define`);
      return store;
    },
    contextFor: (rule) => ({ hmacKey, timezone: rule.timezone }),
    auditKey,
    stores: () => [...stores.values()],
    close: () => databases.close(),
  };
}

/** Checks every database answers, then brings the state schema up to date. */
export async function connectRuntime(runtime: Runtime): Promise<void> {
  await ping(runtime.state.db);
  for (const store of runtime.stores()) await store.ping();
  await migrate(runtime.state);
}
