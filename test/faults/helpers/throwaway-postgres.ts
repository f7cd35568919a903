import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { stopOnExit } from './exit-guard.js';
import { sparePort } from './spare-port.js';
import { waitFor } from './wait-for.js';

const run = promisify(execFile);
const START_TIMEOUT_S = 120;

/** How `stop` ends the server: `fast` is a clean shutdown, `immediate` a crash (recovery on start). */
export type PostgresStopMode = 'fast' | 'immediate';

/**
 * A PostgreSQL cluster of our own (initdb + pg_ctl in a temp directory, on a spare loopback
 * port), for scenarios that restart the database: the machine's shared server on 5432 is
 * never touched. PostgreSQL refuses to run as root, so as root every command runs as the
 * `postgres` OS user (runuser), which owns the directory. fsync is off: a crash of this
 * server process is what we simulate, not of the machine.
 */
export class ThrowawayPostgres {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly #bin: string;
  #running = false;
  readonly #forget: () => void;

  private constructor(dir: string, port: number, bin: string) {
    this.dir = dir;
    this.port = port;
    this.#bin = bin;
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    this.#forget = stopOnExit(() => {
      try {
        execFileSync(...this.#command('pg_ctl', ['-D', this.dataDir, '-m', 'immediate', '-w', 'stop']), { stdio: 'ignore' });
      } finally {
        rmSync(this.dir, { recursive: true, force: true });
      }
    });
  }

  static async start(): Promise<ThrowawayPostgres> {
    const bin = postgresBin();
    const dir = mkdtempSync(join(tmpdir(), 'retention-faults-pg-'));
    const server = new ThrowawayPostgres(dir, await sparePort(), bin);
    try {
      if (isRoot()) {
        const { uid, gid } = await postgresUser();
        chownSync(dir, uid, gid);
      }
      await server.#pg('initdb', ['-D', server.dataDir, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions']);
      await server.start();
      return server;
    } catch (error) {
      await server.destroy();
      throw error;
    }
  }

  get dataDir(): string {
    return join(this.dir, 'data');
  }

  get logFile(): string {
    return join(this.dir, 'server.log');
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      // Safe to skip for a crash of the server process (the OS keeps what was written),
      // which is the only crash we simulate. synchronous_commit stays on: without it a
      // COMMIT the worker saw succeed could vanish in an immediate stop.
      '-c fsync=off',
      '-c full_page_writes=off',
      '-c max_connections=100',
    ].join(' ');
    await this.#pg('pg_ctl', ['-D', this.dataDir, '-l', this.logFile, '-o', options, '-w', '-t', String(START_TIMEOUT_S), 'start']);
    this.#running = true;
    await waitFor(() => this.#answers(), { what: `throwaway PostgreSQL on port ${this.port}`, timeoutMs: START_TIMEOUT_S * 1000 });
  }

  async stop(mode: PostgresStopMode = 'fast'): Promise<void> {
    if (!this.#running) return;
    await this.#pg('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', '-t', String(START_TIMEOUT_S), 'stop']);
    this.#running = false;
  }

  /** Stops the server, always removes its directory. Safe to call twice. */
  async destroy(): Promise<void> {
    try {
      if (this.#running || existsSync(join(this.dataDir, 'postmaster.pid'))) {
        this.#running = true;
        await this.stop('immediate').catch(() => undefined);
      }
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
      this.#forget();
    }
  }

  /** The server's log, for diagnostics when a scenario fails. */
  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  async #answers(): Promise<boolean> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 2_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** The program and its arguments, run as the postgres user when we are root. */
  #command(program: string, args: string[]): [string, string[]] {
    const path = join(this.#bin, program);
    return isRoot() ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
  }

  async #pg(program: string, args: string[]): Promise<void> {
    const [file, argv] = this.#command(program, args);
    try {
      await run(file, argv, { cwd: this.dir });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: string; stdout?: string };
      throw new Error(`${program} ${args.at(-1)} failed: ${stderr || stdout || (error as Error).message}`, { cause: error });
    }
  }
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** `$PG_BIN`, else the newest /usr/lib/postgresql/N/bin that has initdb. */
function postgresBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions[0]) throw new Error(`no PostgreSQL server binaries under ${root} (set PG_BIN to the directory holding initdb and pg_ctl)`);
  return join(root, versions[0], 'bin');
}
