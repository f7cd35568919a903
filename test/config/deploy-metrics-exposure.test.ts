import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { sparePort } from '../faults/helpers/spare-port.js';

/** The container's metrics port: published on loopback only; the HEALTHCHECK copes with no endpoint. */
const exec = promisify(execFile);
const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

/** The HEALTHCHECK's command, run as Docker runs it (exec form), with `env`; its exit code. */
async function healthcheck(env: Record<string, string>): Promise<number> {
  const line = read('docs/deploy/Dockerfile').split('\n').find((l) => l.trim().startsWith('CMD ["node", "-e"'))!;
  const [command, ...args] = JSON.parse(line.trim().slice('CMD '.length)) as string[];
  try {
    await exec(command!, args, { env: { PATH: process.env.PATH!, ...env }, timeout: 10_000 });
    return 0;
  } catch (error) {
    return (error as { code: number }).code;
  }
}

describe('metrics port in the deployment files', () => {
  it('compose publishes 9464 on the host loopback only', () => {
    const compose = parseDocument(read('docs/deploy/compose.yaml')).toJS() as { services: Record<string, { ports?: string[] }> };
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(published).toContain('127.0.0.1:9464:9464');
    expect(published.filter((p) => p.includes('9464') && !p.startsWith('127.0.0.1:'))).toEqual([]);
  });

  it('the HEALTHCHECK passes with RETENTION_HTTP_PORT=off and fails when nothing answers on the port', async () => {
    expect(await healthcheck({ RETENTION_HTTP_PORT: 'off' })).toBe(0);
    expect(await healthcheck({ RETENTION_HTTP_PORT: String(await sparePort()) })).toBe(1);
  });
});
