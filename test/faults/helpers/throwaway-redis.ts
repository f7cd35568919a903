import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Redis } from 'ioredis';
import { stopOnExit } from './exit-guard.js';
import { sparePort } from './spare-port.js';
import { waitFor } from './wait-for.js';

const START_TIMEOUT_MS = 30_000;

/**
 * A redis-server of our own on a spare loopback port, with no persistence (`--save ""`,
 * `--appendonly no`): a restart loses every key, as a cache-configured Redis does. The
 * machine's shared Redis on 6379 is never touched. `noeviction`, as the worker requires.
 */
export class ThrowawayRedis {
  readonly port: number;
  readonly url: string;
  #child: ChildProcess | null = null;
  #output = '';

  private constructor(port: number) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
  }

  static async start(): Promise<ThrowawayRedis> {
    const server = new ThrowawayRedis(await sparePort());
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#child = child;
    const forget = stopOnExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    await waitFor(() => this.#answers(), { what: `throwaway redis-server on port ${this.port}`, timeoutMs: START_TIMEOUT_MS });
  }

  /** Kills the server at once (SIGKILL, like a crash): every key is gone. */
  async kill(): Promise<void> {
    await this.#end('SIGKILL');
  }

  /** Stops the server; safe to call twice. */
  async stop(): Promise<void> {
    await this.#end('SIGKILL');
  }

  /** Crash and start again on the same port, empty. */
  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  output(): string {
    return this.#output;
  }

  async #end(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child;
    this.#child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  async #answers(): Promise<boolean> {
    if (this.#child && (this.#child.exitCode !== null || this.#child.signalCode !== null)) {
      throw new Error(`redis-server exited: ${this.#output.slice(-2_000)}`);
    }
    const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return (await client.ping()) === 'PONG';
    } finally {
      client.disconnect();
    }
  }
}
