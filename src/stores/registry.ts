import type { StoreConfig } from '../policy/config.js';
import type { Store } from './store.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { RedisStore } from './redis/redis-store.js';
import { createDatabase, type Database } from './postgres/connect.js';

/**
 * Connections shared by URL: a store in the state database uses the state's own pool, so
 * its batches and their audit entries commit in one transaction.
 */
export class Databases {
  readonly #byUrl = new Map<string, Database>();

  get(url: string, origin: string): Database {
    let db = this.#byUrl.get(url);
    if (!db) {
      db = createDatabase(url, { origin });
      this.#byUrl.set(url, db);
    }
    return db;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#byUrl.values()].map((db) => db.pool.end().catch(() => undefined)));
    this.#byUrl.clear();
  }
}

/**
 * Everything a store may need besides its own config: shared connections, and the
 * queue's key prefix (a Redis store never touches keys under it, whatever a rule says).
 */
export interface StoreContext {
  databases: Databases;
  queuePrefix: string;
}

type StoreFactory = (name: string, config: StoreConfig, origin: string, context: StoreContext) => Store;

/** Store kinds by name. A new kind is one file under stores/ and one line here. */
const FACTORIES: Partial<Record<StoreConfig['kind'], StoreFactory>> = {
  postgres: (name, config, origin, { databases }) => new PostgresStore(name, databases.get(config.url, origin)),
  redis: (name, config, origin, { queuePrefix }) => new RedisStore(name, config.url, origin, queuePrefix),
};

export function createStore(name: string, config: StoreConfig, origin: string, context: StoreContext): Store {
  const factory = FACTORIES[config.kind];
  if (!factory) throw new Error(`unknown store kind ${JSON.stringify(config.kind)} (valid: ${Object.keys(FACTORIES).join(', ')})`);
  return factory(name, config, origin, context);
}
