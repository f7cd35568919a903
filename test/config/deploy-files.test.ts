import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { describe, expect, it } from 'vitest';

/**
 * The deployment files of docs/deploy/ (docs/deployment.md) name what exists: Docker cannot
 * run where the tests run, so these checks are what keeps the image, the compose file and
 * the systemd unit from drifting away from the repository (a renamed bin, a moved SQL file).
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = join(ROOT, 'docs/deploy');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const bin = (JSON.parse(read('package.json')) as { bin: { retention: string } }).bin.retention;

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  stop_signal?: string;
  stop_grace_period?: string;
  depends_on?: Record<string, { condition: string }>;
}

function compose(): { services: Record<string, ComposeService> } {
  const doc = parseDocument(read('docs/deploy/compose.yaml'), { uniqueKeys: true });
  expect(doc.errors).toEqual([]);
  return doc.toJS() as { services: Record<string, ComposeService> };
}

/** The host side of a compose bind mount (`./initdb:/docker-entrypoint-initdb.d:ro`), resolved; null for a named volume. */
const hostPath = (volume: string): string | null => {
  const host = volume.split(':')[0]!;
  return host.startsWith('.') || host.startsWith('/') ? resolve(DEPLOY, host) : null;
};

describe('docs/deploy/compose.yaml', () => {
  it('runs the worker, built from the Dockerfile at the repository root, after PostgreSQL and Redis are healthy', () => {
    const { services } = compose();
    expect(Object.keys(services).sort()).toEqual(['postgres', 'redis', 'worker']);
    const worker = services.worker!;
    const context = resolve(DEPLOY, worker.build!.context);
    expect(existsSync(join(context, 'package.json'))).toBe(true);
    expect(existsSync(join(context, worker.build!.dockerfile))).toBe(true);
    expect(worker.command).toEqual(['worker']);
    expect(worker.stop_signal).toBe('SIGTERM');
    expect(worker.depends_on).toEqual({ postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    // The role the initdb script creates is the one the worker connects as.
    expect(worker.environment!.DATABASE_URL).toMatch(/^postgres:\/\/retention_worker:/);
    expect(read('docs/deploy/initdb/10-retention-role.sh')).toContain('${RETENTION_DB_ROLE:-retention_worker}');
  });

  it('keeps Redis from evicting or forgetting queued jobs', () => {
    const command = compose().services.redis!.command!.join(' ');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--appendonly yes');
  });

  it('mounts files that exist, and the SQL path the init script reads', () => {
    const { services } = compose();
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const host = hostPath(volume);
        // ./retention.yaml is the operator's config, written beside the compose file.
        if (host && !host.endsWith('retention.yaml')) expect(existsSync(host), `${name}: ${volume}`).toBe(true);
      }
    }
    const sql = services.postgres!.volumes!.find((v) => v.includes('retention-role.sql'))!.split(':')[1];
    expect(read('docs/deploy/initdb/10-retention-role.sh')).toContain(`\${RETENTION_ROLE_SQL:-${sql}}`);
  });
});

describe('docs/deploy/Dockerfile', () => {
  const dockerfile = read('docs/deploy/Dockerfile');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => /^[A-Z]+ /.test(l));

  it('builds with npm ci, then prunes the dev dependencies (npm ci --omit=dev cannot build)', () => {
    const run = instructions.filter((l) => l.startsWith('RUN ')).join('\n');
    expect(run).toMatch(/npm ci\b.*&& npm prune --omit=dev/);
    expect(run).not.toMatch(/npm ci[^&]*--omit=dev/);
    expect(instructions.filter((l) => l.startsWith('FROM ')).map((l) => l.split(' ')[1])).toEqual(['node:20-slim', 'node:20-slim']);
  });

  it('copies only what exists in the repository, and runs the package\'s bin', () => {
    for (const line of instructions.filter((l) => l.startsWith('COPY ') && !l.includes('--from='))) {
      const sources = line.split(/\s+/).slice(1, -1);
      for (const source of sources) expect(existsSync(join(ROOT, source)), line).toBe(true);
    }
    const entrypoint = JSON.parse(instructions.find((l) => l.startsWith('ENTRYPOINT '))!.slice('ENTRYPOINT '.length)) as string[];
    expect(entrypoint).toEqual(['node', `/app/${bin}`]);
    expect(instructions).toContain('CMD ["worker"]');
    expect(instructions).toContain('STOPSIGNAL SIGTERM');
    expect(instructions).toContain('USER node');
  });
});

describe('the systemd unit and docs/deployment.md', () => {
  it('runs the package\'s bin as the worker, stopping it with SIGTERM', () => {
    const unit = read('docs/deploy/retention-worker@.service');
    expect(unit).toContain(`ExecStart=/usr/bin/node /opt/retention/${bin} worker`);
    expect(unit).toContain('KillSignal=SIGTERM');
  });

  it('links only to files that exist', () => {
    const doc = read('docs/deployment.md');
    const links = [...doc.matchAll(/\]\(([^)#]+)(#[^)]*)?\)/g)].map((m) => m[1]!).filter((l) => !/^https?:/.test(l));
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) expect(existsSync(join(dirname(join(ROOT, 'docs/deployment.md')), link)), link).toBe(true);
  });
});
