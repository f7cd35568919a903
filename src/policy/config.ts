import type { InventoryEntry } from './inventory.js';
import type { RequestPolicy } from './request-policy.js';
import type { Rule } from './rule.js';

/**
 * One `stores.NAME` entry: its kind, and its settings as that kind's config schema parsed
 * them (a URL, a root directory, a bucket...). What they mean is the kind's business.
 */
export interface StoreConfig {
  kind: string;
  readonly [setting: string]: unknown;
}

/** A loaded, validated config. Built by `loadConfig`, read-only afterwards. */
export interface Config {
  /** The file it was read from, for messages. */
  file: string;
  /** SHA-256 of the file's bytes (before interpolation, so no secret is hashed). */
  hash: string;
  timezone: string;
  /** Redis URL for the BullMQ queue. */
  redis: string;
  /** PostgreSQL URL of the state database: audit log, sweeps, checkpoints, and `now()`. */
  state: string;
  /** Schema in the state database holding our tables. Default `retention`. */
  stateSchema: string;
  /** BullMQ key prefix, so two deployments can share one Redis. */
  queuePrefix: string;
  stores: Record<string, StoreConfig>;
  rules: Rule[];
  worker: WorkerConfig;
  /** Deadlines of people's requests (`requests:`), defaults filled in. */
  requests: RequestPolicy;
  /** Where personal data lives (`inventory:`), for `retention coverage`; empty when not written. */
  inventory: InventoryEntry[];
  /** For each config path filled from the environment, where its value came from. */
  origins: ReadonlyMap<string, string>;
}

export interface WorkerConfig {
  /** Batches one worker process runs at once. Default 2. */
  concurrency: number;
  /**
   * Where the worker serves /metrics, /healthz and /readyz; `false`: nowhere. Default
   * 127.0.0.1:9464. `RETENTION_HTTP_HOST` / `RETENTION_HTTP_PORT` override it (src/metrics/http-settings.ts).
   */
  http: false | { host: string; port: number };
  alerts: {
    /** An open erasure request this many calendar days or fewer from its deadline is "due soon". Default 7. */
    requestsDueWithinDays: number;
  };
}

/** "redis (from $REDIS_URL)" or "redis (config/retention.yaml)" for error messages. */
export function describeOrigin(config: Pick<Config, 'file' | 'origins'>, path: string): string {
  const origin = config.origins.get(path);
  return origin ? `${path} in ${config.file}, from ${origin}` : `${path} in ${config.file}`;
}
