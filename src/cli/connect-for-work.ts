import { describeOrigin } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import { createRedis, probeRedis } from '../queue/redis-connection.js';
import { connectRuntime, type Runtime } from '../runtime/runtime.js';
import { configProblemsError, inspectLive } from './inspect-config.js';

/**
 * What every command that changes data does before it touches anything: checks `rules`
 * against the live stores (a problem stops it, exit 2), checks Redis answers, connects the
 * runtime (state schema migrated), and opens the queue's Redis connection, which the
 * caller closes.
 */
export async function connectForWork(runtime: Runtime, rules: readonly Rule[]): Promise<ReturnType<typeof createRedis>> {
  const { config } = runtime;
  const problems = await inspectLive(runtime, rules, { redis: true });
  if (problems.length > 0) throw configProblemsError(config, problems);
  await probeRedis(config.redis, describeOrigin(config, 'redis'));
  await connectRuntime(runtime);
  const connection = createRedis(config.redis);
  connection.on('error', () => undefined);
  return connection;
}
