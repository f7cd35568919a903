import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis } from 'ioredis';
import { stopOnExit } from '../faults/helpers/exit-guard.js';
import { sparePort } from '../faults/helpers/spare-port.js';
import { waitFor } from '../faults/helpers/wait-for.js';

const run = promisify(execFile);
const START_TIMEOUT_MS = 30_000;
const MASTERS = 3;

/**
 * A Redis Cluster of three masters (no replicas) of our own, on spare loopback ports,
 * with no persistence: `redis-server --cluster-enabled yes` per node, joined by
 * `redis-cli --cluster create`, ready once every node reports `cluster_state:ok`. Its node
 * files live in a temporary directory removed by `stop`. The machine's shared Redis is
 * never touched.
 */
export class RedisCluster {
  readonly ports: readonly number[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3`: how a config names it. */
  readonly url: string;
  readonly #dir: string;
  readonly #children: ChildProcess[] = [];
  #output = '';

  private constructor(ports: number[], dir: string) {
    this.ports = ports;
    this.#dir = dir;
    this.url = `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;
  }

  static async start(): Promise<RedisCluster> {
    const ports: number[] = [];
    while (ports.length < MASTERS) {
      const port = await sparePort();
      // A cluster node also listens on port + 10000 (the cluster bus).
      if (!ports.includes(port) && port + 10_000 <= 65_535) ports.push(port);
    }
    const cluster = new RedisCluster(ports, await mkdtemp(join(tmpdir(), 'retention-cluster-')));
    try {
      await cluster.#start();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw new Error(`${(error as Error).message}\n${cluster.#output.slice(-3_000)}`, { cause: error });
    }
  }

  /** A client of the whole cluster (closed by the caller). */
  client(): Cluster {
    return new Cluster(
      this.ports.map((port) => ({ host: '127.0.0.1', port })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
  }

  /** Kills one node at once (SIGKILL, like a crash); the others keep running. */
  async killNode(index: number): Promise<void> {
    const child = this.#children[index];
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  /** Stops every node and removes the node files; safe to call twice. */
  async stop(): Promise<void> {
    const children = this.#children.splice(0);
    await Promise.all(
      children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }),
    );
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #start(): Promise<void> {
    for (const port of this.ports) this.#spawn(port);
    await Promise.all(this.ports.map((port) => waitFor(() => this.#ping(port), { what: `cluster node on port ${port}`, timeoutMs: START_TIMEOUT_MS })));
    const nodes = this.ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes'], { timeout: START_TIMEOUT_MS });
    await Promise.all(this.ports.map((port) => waitFor(() => this.#clusterOk(port), { what: `cluster_state:ok on port ${port}`, timeoutMs: START_TIMEOUT_MS })));
  }

  #spawn(port: number): void {
    const child = spawn(
      'redis-server',
      [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(this.#dir, `nodes-${port}.conf`),
        '--dir', this.#dir,
        '--save', '',
        '--appendonly', 'no',
        '--maxmemory-policy', 'noeviction',
        '--protected-mode', 'yes',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#children.push(child);
    const forget = stopOnExit(() => child.kill('SIGKILL'));
    child.once('exit', forget);
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  async #ping(port: number): Promise<boolean> {
    return this.#withNode(port, async (node) => (await node.ping()) === 'PONG');
  }

  async #clusterOk(port: number): Promise<boolean> {
    return this.#withNode(port, async (node) => (await node.cluster('INFO')).includes('cluster_state:ok'));
  }

  async #withNode<T>(port: number, work: (node: Redis) => Promise<T>): Promise<T> {
    const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000 });
    node.on('error', () => undefined);
    try {
      await node.connect();
      return await work(node);
    } finally {
      node.disconnect();
    }
  }
}
