import { parse } from 'yaml';

/**
 * An identifier (table, column, schema, rule id) as a YAML scalar that reads back as the
 * same string: bare when it does, double-quoted otherwise. A column named `null`, `true` or
 * `NO` written bare would load as null or a boolean, not as the name. Read back with the
 * same library and options as the config loader (load-config.ts: YAML 1.2, core schema).
 */
export function yamlScalar(text: string): string {
  if (/^[A-Za-z0-9_$.\-]+$/.test(text) && readsBack(text)) return text;
  return JSON.stringify(text);
}

function readsBack(text: string): boolean {
  try {
    return parse(text, { uniqueKeys: true }) === text;
  } catch {
    return false;
  }
}
