/**
 * `npm run schema`: writes docs/retention.schema.json (the JSON Schema editors check a
 * config with) and docs/config-reference.md, both from the zod schemas the config loader
 * validates with and the store registry. `--check` writes nothing and exits 1 when either
 * file differs from what the schemas give (test/config/json-schema.test.ts does the same).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { STORE_KINDS } from '../src/stores/registry.js';
import { buildConfigJsonSchema } from './config-json-schema.js';
import { renderConfigReference } from './config-reference.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export const SCHEMA_FILE = 'docs/retention.schema.json';
export const REFERENCE_FILE = 'docs/config-reference.md';

/** Each generated file (relative to the repository root) and the text it must hold. */
export function generatedFiles(): Record<string, string> {
  const schema = buildConfigJsonSchema(STORE_KINDS);
  return {
    [SCHEMA_FILE]: `${JSON.stringify(schema, null, 2)}\n`,
    [REFERENCE_FILE]: renderConfigReference(schema),
  };
}

function current(file: string): string | null {
  try {
    return readFileSync(join(ROOT, file), 'utf8');
  } catch {
    return null;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  const stale = Object.entries(generatedFiles()).filter(([file, text]) => current(file) !== text);
  for (const [file, text] of stale) {
    if (check) {
      console.error(`${file} is out of date with the config schemas: run npm run schema`);
    } else {
      writeFileSync(join(ROOT, file), text);
      console.log(`wrote ${file}`);
    }
  }
  if (stale.length === 0) console.log(`${SCHEMA_FILE} and ${REFERENCE_FILE} are up to date`);
  process.exit(check && stale.length > 0 ? 1 : 0);
}
