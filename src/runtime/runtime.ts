import { auditKeyFrom } from '../audit/audit-key.js';
import { describeOrigin, type Config } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import { migrate, stateDb, type StateDb } from '../state/state-db.js';
import { createDatabase, ping } from '../stores/postgres/connect.js';
import { STORE_KINDS } from '../stores/registry.js';
import type { StoreKind } from '../stores/store-kind.js';
import type { Store, StoreContext } from '../stores/store.js';
import { SweepEvents } from './sweep-events.js';

/** Everything a command or worker needs below the config: connections, never opened at import. */
export interface Runtime {
  config: Config;
  state: StateDb;
  /** Store for a rule; throws for a store the config does not define. */
  storeFor(rule: Rule): Store;
  /** Run-time inputs for anonymization (secrets stay out of payloads). */
  contextFor(rule: Rule): StoreContext;
  /**
   * Secret key of the audit trail, from $RETENTION_AUDIT_KEY: keys the hash chain and the
   * digests of row keys written to the audit log. Never stored in a database.
   */
  auditKey: Buffer | null;
  /** Every distinct store in the config. */
  stores(): Store[];
  /** Sweep ends and batches as the executor records them, for the worker's logs and metrics. */
  events: SweepEvents;
  close(): Promise<void>;
}

/**
 * Builds the runtime: the state database's pool and one store per `stores` entry, made by
 * its kind (`kinds`, by default the registry's). Opens no connection; `connectRuntime`
 * does. Each store owns its connections and closes them with the runtime. Async because a
 * kind imports its driver only when a store of it is made (store-kind.ts, `create`).
 */
export async function openRuntime(config: Config, env: NodeJS.ProcessEnv = process.env, kinds: readonly StoreKind[] = STORE_KINDS): Promise<Runtime> {
  const auditKey = auditKeyFrom(env);
  const stateDatabase = createDatabase(config.state, { origin: describeOrigin(config, 'state') });
  const state = stateDb(stateDatabase, config.stateSchema, auditKey);
  // One after the other, in the config's order: the first store that cannot be made is the one named.
  const stores = new Map<string, Store>();
  for (const [name, { kind: kindName, ...settings }] of Object.entries(config.stores)) {
    const kind = kinds.find((k) => k.kind === kindName);
    if (!kind) throw new Error(`store ${name} is of kind ${JSON.stringify(kindName)}, which no registered store kind provides`);
    const store = await kind.create(name, settings, {
      origin: (field) => describeOrigin(config, `stores.${name}.${field}`),
      queuePrefix: config.queuePrefix,
      stateUrl: config.state,
      stateSchema: config.stateSchema,
      timezone: config.timezone,
      configFile: config.file,
    });
    stores.set(name, store);
  }
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
    events: new SweepEvents(),
    async close() {
      await Promise.all([...stores.values()].map((store) => store.close().catch(() => undefined)));
      await stateDatabase.pool.end().catch(() => undefined);
    },
  };
}

/** Checks every database answers, then brings the state schema up to date. */
export async function connectRuntime(runtime: Runtime): Promise<void> {
  await ping(runtime.state.db);
  for (const store of runtime.stores()) await store.ping();
  await migrate(runtime.state);
}
