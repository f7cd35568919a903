import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** A Lua script and its SHA-1, for EVALSHA. */
export interface Script {
  source: string;
  sha: string;
}

export function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

/**
 * Runs `script` by its SHA, sending the source only the first time a server sees it (or
 * after SCRIPT FLUSH). Keys travel as Buffers, exactly as SCAN returned them.
 */
export async function runScript(redis: Redis, { source, sha }: Script, keys: readonly Buffer[], args: readonly string[]): Promise<unknown> {
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!String((error as Error).message).startsWith('NOSCRIPT')) throw error;
    return await redis.eval(source, keys.length, ...keys, ...args);
  }
}
