import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on a free 127.0.0.1 port to a real server (the shared PostgreSQL), so a test
 * can make that server unreachable for one process without touching the server itself:
 * `cut()` drops every relayed connection and stops listening, and the port then refuses
 * connections as a server that went away does.
 */
export class TcpProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #sockets: Set<Socket>;

  private constructor(server: Server, port: number, sockets: Set<Socket>) {
    this.#server = server;
    this.port = port;
    this.#sockets = sockets;
  }

  static async start(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
    const sockets = new Set<Socket>();
    const server = createServer((client) => {
      const upstream = createConnection({ host: targetHost, port: targetPort });
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || !address) throw new Error('the proxy has no port');
    return new TcpProxy(server, address.port, sockets);
  }

  /** Drops every connection and stops accepting new ones; resolves once the listener is closed. */
  async cut(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) socket.destroy();
    await closed;
  }
}
