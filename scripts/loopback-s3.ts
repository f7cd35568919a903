import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./loopback-s3-server.mjs', import.meta.url));
const STARTUP_MS = 15_000;

/**
 * The only credentials the loopback server accepts (s3rver's fixed account). Good for
 * nothing else: the server holds throwaway data on 127.0.0.1.
 */
export const LOOPBACK_S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
}
type FilesystemStoreClass = new (directory: string) => FilesystemStore;

/** An S3-compatible server on a loopback port, its data in a temporary directory. */
export interface LoopbackS3 {
  endpoint: string;
  /** Sets an object's LastModified (s3rver reads it from the object file's mtime). */
  setLastModified(bucket: string, key: string, ms: number): Promise<void>;
  /** Ends the server and removes its directory; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts scripts/loopback-s3-server.mjs (s3rver behind a thin front; see there why) as a
 * child process on 127.0.0.1, port chosen by the system. `stop` ends it and removes its
 * directory; the server also ends by itself when this process does (its stdin closes).
 */
export async function startS3Server(): Promise<LoopbackS3> {
  const directory = await mkdtemp(join(tmpdir(), 'retention-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', SCRIPT, directory], { stdio: ['pipe', 'pipe', 'inherit'] });
  let port: number;
  try {
    port = await readPort(child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const require = createRequire(import.meta.url);
  const Store = require('s3rver/lib/stores/filesystem.js') as FilesystemStoreClass;
  const files = new Store(directory);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async setLastModified(bucket, key, ms) {
      const seconds = ms / 1000;
      await utimes(files.getResourcePath(bucket, key, 'object'), seconds, seconds);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000).unref())]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
      child.stdin?.destroy();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the loopback S3 server did not start in time')), STARTUP_MS);
    child.once('exit', (code) => reject(new Error(`the loopback S3 server exited with ${code}`)));
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
}
