import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Latencies of the application's operations, without a sweep and during one. */
export interface Impact {
  concurrency: number;
  sweepSeconds: number;
  reads: { quiet: number[]; sweep: number[] };
  inserts: { quiet: number[]; sweep: number[] };
}

const WARM_UP_MS = 2_000;
const QUIET_MS = 6_000;
/** The application: 4 connections, 100 operations/s each (one in five an insert). */
const APP_CONNECTIONS = 4;
const APP_RATE_PER_CONNECTION = 100;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts the application load (bench-load.ts, its own process), records QUIET_MS without a
 * sweep, then runs `sweep` and records until it ends.
 */
export async function measureImpact(
  databaseUrl: string,
  maxId: number,
  outFile: string,
  concurrency: number,
  sweep: () => Promise<{ seconds: number }>,
): Promise<Impact> {
  const load = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'bench-load.ts'), outFile, databaseUrl, String(maxId), String(APP_CONNECTIONS), String(APP_RATE_PER_CONNECTION)],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const exited = new Promise<void>((resolve) => load.once('exit', () => resolve()));
  try {
    await sleep(WARM_UP_MS);
    const quietFrom = Date.now();
    await sleep(QUIET_MS);
    const sweepFrom = Date.now();
    const { seconds } = await sweep();
    const sweepTo = Date.now();
    load.kill('SIGTERM');
    await exited;
    const samples = JSON.parse(readFileSync(outFile, 'utf8')) as [number, number, number][];
    const window = (from: number, to: number, kind: number) => samples.filter(([at, , k]) => at >= from && at < to && k === kind).map(([, ms]) => ms);
    return {
      concurrency,
      sweepSeconds: seconds,
      reads: { quiet: window(quietFrom, sweepFrom, 0), sweep: window(sweepFrom, sweepTo, 0) },
      inserts: { quiet: window(quietFrom, sweepFrom, 1), sweep: window(sweepFrom, sweepTo, 1) },
    };
  } finally {
    if (load.exitCode === null) load.kill('SIGKILL');
  }
}
