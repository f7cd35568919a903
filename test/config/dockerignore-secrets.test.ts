import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * docs/deploy/Dockerfile.dockerignore keeps secrets out of the build context: an `.env`
 * file anywhere in the repository (the root, a config directory, an example), not only at
 * the root, where `.env` alone would match.
 */

const IGNORE = fileURLToPath(new URL('../../docs/deploy/Dockerfile.dockerignore', import.meta.url));

describe('the image build context', () => {
  it('leaves out .env files wherever they lie', () => {
    const patterns = readFileSync(IGNORE, 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    expect(patterns).toContain('**/.env');
    // A later `!` pattern would take a .env back in.
    expect(patterns.filter((p) => p.startsWith('!') && p.includes('.env'))).toEqual([]);
  });
});
