import { ConfigError, type ConfigProblem } from '../../src/errors.js';
import { parseConfig } from '../../src/policy/load-config.js';
import { STORE_KINDS } from '../../src/stores/registry.js';

/** A config file's text with one store `name` and one rule, each a YAML flow mapping. */
export function oneRuleConfig(name: string, store: string, rule: string): string {
  return `
timezone: UTC
redis: redis://127.0.0.1:6379
state: postgres://postgres@127.0.0.1:5432/test
stores:
  ${name}: ${store}
rules:
  - ${rule}
`;
}

/** The problems the loader finds in a config file's text, with every store kind; [] when it loads. */
export function configProblems(text: string): ConfigProblem[] {
  try {
    parseConfig(text, 'test.yaml', {}, STORE_KINDS);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return [...error.problems];
  }
}
