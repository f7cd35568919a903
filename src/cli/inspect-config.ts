import { auditKeyProblem } from '../audit/audit-key.js';
import { isError, type ConfigProblem } from '../errors.js';
import { describeOrigin, type Config } from '../policy/config.js';
import type { Rule } from '../policy/rule.js';
import { probeRedis } from '../queue/redis-connection.js';
import type { Runtime } from '../runtime/runtime.js';
import { ping } from '../stores/postgres/connect.js';
import { inspectRole } from '../stores/postgres/role-privileges.js';
import { UserError } from '../errors.js';

/**
 * The live half of `check`: every service answers and every rule's table and columns are
 * what the rule says. Reads catalogs only; changes nothing. Returns the problems that
 * block; warnings only `inspectLiveReport` returns.
 */
export async function inspectLive(runtime: Runtime, rules: readonly Rule[], options: { redis: boolean }): Promise<ConfigProblem[]> {
  return (await inspectLiveReport(runtime, rules, options)).problems;
}

/** `inspectLive` with the warnings too (things worth a look that block nothing), for `check`. */
export async function inspectLiveReport(
  runtime: Runtime,
  rules: readonly Rule[],
  options: { redis: boolean; roles?: boolean },
): Promise<{ problems: ConfigProblem[]; warnings: ConfigProblem[] }> {
  const { config } = runtime;
  const problems: ConfigProblem[] = [];
  // The commands that use the queue (check, run, worker) are the ones that sweep, and every
  // sweep appends to the audit log: refuse them before anything is touched without its key.
  if (options.redis) {
    const keyProblem = auditKeyProblem(runtime.auditKey);
    if (keyProblem) problems.push({ path: 'environment', message: keyProblem });
  }
  const unreachable = async (path: string, probe: () => Promise<unknown>) => {
    try {
      await probe();
      return false;
    } catch (error) {
      if (!(error instanceof UserError)) throw error;
      problems.push({ path, message: error.message });
      return true;
    }
  };
  const stateDown = await unreachable('state', () => ping(runtime.state.db));
  if (options.redis) {
    await unreachable('redis', async () => {
      const { maxmemoryPolicy, node } = await probeRedis(config.redis, describeOrigin(config, 'redis'));
      if (maxmemoryPolicy !== null && maxmemoryPolicy !== 'noeviction') {
        problems.push({
          path: 'redis',
          message: `Redis evicts keys (maxmemory-policy is ${maxmemoryPolicy}${node ? ` on cluster node ${node}` : ''}); queued sweeps would be lost. Set maxmemory-policy noeviction`,
        });
      }
    });
  }
  const down = new Set<string>();
  for (const store of runtime.stores()) {
    // A store in the state database shares its connection: one failure, reported once.
    if (stateDown && store.sharesTransactionsWith(config.state)) down.add(store.name);
    else if (await unreachable(`stores.${store.name}`, () => store.ping())) down.add(store.name);
  }
  for (const rule of rules) {
    if (down.has(rule.store)) continue;
    const index = config.rules.indexOf(rule);
    const store = runtime.storeFor(rule);
    // Each store's own live checks, the state schema among them (never a rule's to sweep).
    problems.push(...(await store.inspect(rule, `rules[${index}]`, runtime.contextFor(rule), config.rules)));
  }
  if (options.roles) problems.push(...(await roleWarnings(runtime, rules, { stateDown, down })));
  return { problems: problems.filter(isError), warnings: problems.filter((p) => !isError(p)) };
}

/**
 * What the roles the state database and each store connect as may do beyond what retention
 * needs (a superuser above all), as warnings; `RETENTION_ROLE_WARNINGS=off` silences them
 * where that role is chosen knowingly (a development database). The same role on the same
 * database is reported once, at the first place it is used (`state`).
 */
async function roleWarnings(runtime: Runtime, rules: readonly Rule[], reached: { stateDown: boolean; down: ReadonlySet<string> }): Promise<ConfigProblem[]> {
  if (process.env.RETENTION_ROLE_WARNINGS === 'off') return [];
  const { config } = runtime;
  const found: ConfigProblem[] = reached.stateDown ? [] : await inspectRole(runtime.state.db.pool, 'state', []);
  for (const store of runtime.stores()) {
    if (reached.down.has(store.name) || !store.inspectStore) continue;
    const own = rules.filter((r) => r.store === store.name).map((rule) => ({ rule, path: `rules[${config.rules.indexOf(rule)}]` }));
    found.push(...(await store.inspectStore(own, `stores.${store.name}`)));
  }
  const seen = new Set<string>();
  return found.filter((p) => {
    if (seen.has(p.message)) return false;
    seen.add(p.message);
    return true;
  });
}

export function configProblemsError(config: Config, problems: readonly ConfigProblem[]): UserError {
  const lines = problems.map((p) => `${config.file}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
  return new UserError((problems.length > 1 ? `${problems.length} problems:\n` : '') + lines.join('\n'));
}
