import type { ConfigProblem } from '../errors.js';

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Where an interpolated value came from, for error messages ("from $REDIS_URL"). */
export type Origins = Map<string, string>;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree. Runs on
 * parsed values, not on the file text, so an environment value can never inject YAML.
 * Records, per path, which variables or defaults produced the value.
 */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  origins: Origins,
  path = '',
): unknown {
  if (typeof value === 'string') {
    const used: string[] = [];
    const out = value.replace(REFERENCE, (_match, name: string, fallback: string | undefined) => {
      const set = env[name];
      if (set !== undefined && set !== '') {
        used.push(`$${name}`);
        return set;
      }
      if (fallback !== undefined) {
        used.push(`the default in \${${name}:-...} ($${name} is not set)`);
        return fallback;
      }
      problems.push({ path, message: `environment variable ${name} is not set and \${${name}} has no default (write \${${name}:-value})` });
      return '';
    });
    if (used.length > 0) origins.set(path, used.join(', '));
    return out;
  }
  if (Array.isArray(value)) {
    return value.map((item, i) => interpolate(item, env, problems, origins, `${path}[${i}]`));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [k, interpolate(v, env, problems, origins, path ? `${path}.${k}` : k)]),
    );
  }
  return value;
}
