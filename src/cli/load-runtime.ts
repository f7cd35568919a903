import { userInfo } from 'node:os';
import type { Config } from '../policy/config.js';
import { loadConfig, resolveConfigPath } from '../policy/load-config.js';
import type { Rule } from '../policy/rule.js';
import { UserError } from '../errors.js';
import { STORE_KINDS } from '../stores/registry.js';

export interface ConfigOption {
  config?: string;
}

/** `--config`, which every command takes: `.option(...CONFIG_OPTION)`. */
export const CONFIG_OPTION = ['-c, --config <path>', 'config file (default: $RETENTION_CONFIG or config/retention.yaml)'] as const;

export function readConfig(options: ConfigOption): Config {
  return loadConfig(resolveConfigPath(options.config), process.env, STORE_KINDS);
}

/** `--rule ID` picks one rule (an unknown id lists the known ones); `--all` or nothing, every rule. */
export function selectRules(config: Config, ruleId: string | undefined): Rule[] {
  if (ruleId === undefined) return config.rules;
  const rule = config.rules.find((r) => r.id === ruleId);
  if (!rule) {
    throw new UserError(`no rule ${JSON.stringify(ruleId)} in ${config.file} (rules: ${config.rules.map((r) => r.id).join(', ') || 'none'})`);
  }
  return [rule];
}

/** Who an admin action is recorded as: `--actor`, else the OS user. */
export function adminActor(actor: string | undefined): string {
  if (actor) return actor;
  try {
    return `admin:${userInfo().username}`;
  } catch {
    return 'admin:unknown';
  }
}
