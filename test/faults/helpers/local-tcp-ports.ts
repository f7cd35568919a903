import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * The local ports of the TCP sockets a process holds open, read from Linux's /proc: its
 * file descriptors name socket inodes, /proc/<pid>/net/tcp{,6} maps inodes to addresses.
 * PostgreSQL shows the same port as `client_port` of the process's connections, which is
 * how the harness tells whose batches wait at the gate. Empty when the process is gone.
 */
export function localTcpPorts(pid: number): Set<number> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      const target = safe(() => readlinkSync(`/proc/${pid}/fd/${fd}`));
      const inode = target?.match(/^socket:\[(\d+)\]$/)?.[1];
      if (inode) inodes.add(inode);
    }
  } catch {
    return new Set();
  }
  const ports = new Set<number>();
  for (const table of ['tcp', 'tcp6']) {
    const text = safe(() => readFileSync(`/proc/${pid}/net/${table}`, 'utf8')) ?? '';
    // "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode"
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      const inode = fields[9];
      if (!local || !inode || !inodes.has(inode)) continue;
      ports.add(Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
    }
  }
  return ports;
}

function safe<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
