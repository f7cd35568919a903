import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `version` of the package.json nearest above this file: the package's own, whether
 * this runs from the sources (src/cli/) or built (dist/src/cli/, one level deeper; dist/
 * holds no package.json). Read, not imported as JSON: that import would make tsc copy
 * package.json into dist/, and needs import attributes, which Node only reads from 20.10.
 */
export function packageVersion(from = fileURLToPath(import.meta.url)): string {
  for (let dir = dirname(from); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
    if (dirname(dir) === dir) return 'unknown';
  }
}
