import { filesKind } from './files/kind.js';
import { moduleKind } from './module/kind.js';
import { mysqlKind } from './mysql/kind.js';
import { postgresKind } from './postgres/kind.js';
import { redisKind } from './redis/kind.js';
import { s3Kind } from './s3/kind.js';
import type { StoreKind } from './store-kind.js';

/**
 * Every store kind a config may use. Adding a kind is its folder under src/stores/<kind>/
 * (exporting a `StoreKind`) plus one line here.
 */
export const STORE_KINDS: readonly StoreKind[] = [
  postgresKind,
  redisKind,
  mysqlKind,
  filesKind,
  moduleKind,
  s3Kind,
];
